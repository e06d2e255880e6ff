/*
Copyright 2026 The ordersaga-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controller

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/lifecycle"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// The saga's status is the outbox of its lifecycle events: every transition
// is a history entry, written in the status write that records it, and
// status.publishedThrough says up to which entry the events are known to be
// out. Publishing happens only after that write; what this process
// published since the last write is remembered in an eventLedger and
// recorded in the next status write that happens anyway, so the outbox
// costs no write of its own. After a crash, the entries after
// publishedThrough are published again with the same message ids: at least
// once, and consumers dedupe by id.

// publishLifecycleEvents is the transitions' subscriber that sends their
// lifecycle events: SagaTransitioned is announced after the status that
// records it is written. It drains the whole outbox, in order, so that an
// event is never sent before an earlier one that is still due; the other
// transitions of the same pass then find nothing left. A publish that fails
// stays in the outbox for the pass's PublishEvents step.
func (r *OrderSagaReconciler) publishLifecycleEvents(ctx context.Context, n SagaTransitioned) error {
	if !lifecycle.Announces(n.Transition.Reason) || retired(n.Saga) {
		return nil
	}
	r.drainOutbox(ctx, n.Saga)
	return nil
}

// publishEvents is the pass's outbox step: it publishes what the
// transitions' subscriber could not, and what a crashed process left
// unpublished, and says when to try again if the broker refused.
func (r *OrderSagaReconciler) publishEvents(ctx context.Context, req PublishEvents) (EventsPublished, error) {
	// A retired saga had every event out before it retired; its status
	// need not say so.
	if retired(req.Saga) || lifecycle.Drained(&req.Saga.Status, r.events.through(req.Saga)) {
		return EventsPublished{}, nil
	}
	sent, drained := r.drainOutbox(ctx, req.Saga)
	if !drained {
		return EventsPublished{Sent: sent, RetryAt: req.Now.Add(r.BrokerRetryInterval)}, nil
	}
	return EventsPublished{Sent: sent}, nil
}

// drainOutbox publishes the saga's pending lifecycle events in order and
// records each in the ledger; it stops at the first the broker does not
// take, and says whether it got through them all. An event no queue is
// bound for is published all the same: nobody subscribed to it.
func (r *OrderSagaReconciler) drainOutbox(ctx context.Context, s *ordersv1alpha1.OrderSaga) (sent int, drained bool) {
	pending, lost := lifecycle.Pending(&s.Status, r.events.through(s))
	if lost > 0 {
		ctrl.LoggerFrom(ctx).Info("Lifecycle events lost: their history entries were dropped before they could be published", "events", lost)
	}
	for _, e := range pending {
		key, msg, err := lifecycle.Message(s, e)
		if err == nil {
			err = r.Publisher.Publish(ctx, r.EventExchange, key, msg)
		}
		if _, unroutable := errors.AsType[*amqpconn.UnroutableError](err); unroutable {
			err = nil // nobody subscribed to it
		}
		if nerr := r.notify.eventPublished(ctx, LifecycleEventPublished{Saga: s, Type: protocol.EventType(msg.Type), Err: err}); nerr != nil {
			ctrl.LoggerFrom(ctx).Info("Lifecycle event subscriber failed", "error", nerr.Error())
		}
		if err != nil {
			ctrl.LoggerFrom(ctx).V(1).Info("Lifecycle event not published; it stays in the outbox", "seq", e.Seq, "error", err.Error())
			return sent, false
		}
		r.events.record(s, e.Seq)
		sent++
	}
	r.events.record(s, saga.LastSeq(&s.Status))
	return sent, true
}

// eventLedger remembers, per saga, the last history entry whose lifecycle
// event this process has published, until a status write records it in
// status.publishedThrough.
type eventLedger struct {
	mu sync.Mutex
	m  map[types.NamespacedName]ledgerEntry
}

type ledgerEntry struct {
	uid     types.UID
	through int32
}

func newEventLedger() *eventLedger {
	return &eventLedger{m: map[types.NamespacedName]ledgerEntry{}}
}

// through is the last history entry of s known published: by the status
// or by this process.
func (l *eventLedger) through(s *ordersv1alpha1.OrderSaga) int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[client.ObjectKeyFromObject(s)]
	if !ok || e.uid != s.UID {
		return s.Status.PublishedThrough
	}
	return max(e.through, s.Status.PublishedThrough)
}

func (l *eventLedger) record(s *ordersv1alpha1.OrderSaga, seq int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := client.ObjectKeyFromObject(s)
	if e, ok := l.m[key]; ok && e.uid == s.UID && e.through >= seq {
		return
	}
	l.m[key] = ledgerEntry{uid: s.UID, through: seq}
}

func (l *eventLedger) forget(key types.NamespacedName) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

// The outbox step of a pass.
type (
	// PublishEvents publishes the lifecycle events the saga's persisted
	// history holds and nobody is known to have published.
	PublishEvents struct {
		Saga *ordersv1alpha1.OrderSaga
		Now  time.Time
	}
	// EventsPublished counts the events sent and says when to try again if
	// some could not be (zero: none left).
	EventsPublished struct {
		Sent    int
		RetryAt time.Time
	}
)
