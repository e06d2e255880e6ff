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
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/faults"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/sagatrace"
)

// The sub-steps of a reconcile pass, dispatched in this order through the
// mediator. Each request carries the pass's scope.
type (
	// ApplyReplies applies the saga's inbox items (replies and failed
	// dispatches) to the working status.
	ApplyReplies struct{ Scope *scope }
	// AdvanceSaga applies cancel, deletion, manual retry and time: it starts
	// the saga, sends the next command, fires timeouts, retries and the
	// deadline, and compensates.
	AdvanceSaga struct{ Scope *scope }
	// PersistStatus writes the status, once, if it changed, then tells the
	// transitions it records.
	PersistStatus struct{ Scope *scope }
	// SettleReplies acknowledges the replies the persisted status accounts
	// for and dead-letters those no message of the saga explains.
	SettleReplies struct{ Scope *scope }
	// DispatchCommands sends every message the persisted status has in
	// flight that this process has not sent yet.
	DispatchCommands struct{ Scope *scope }
	// FinalizeSaga releases a deleted saga once it has nothing left to undo.
	FinalizeSaga struct{ Scope *scope }
)

// Done is the empty response of the sub-steps: they report through the scope.
type Done struct{}

// SagaTransitioned is published for every transition, after the status
// that records it is persisted: Events, logs and metrics subscribe.
type SagaTransitioned struct {
	Saga       *ordersv1alpha1.OrderSaga
	Transition saga.Transition
}

// applyReplies applies each inbox item. An item that matches nothing in a
// status read from the cache may answer a command whose dispatch the cache
// has not seen yet: the pass then starts again from a live read, and only
// what still matches nothing is dead-lettered.
func (r *OrderSagaReconciler) applyReplies(ctx context.Context, req ApplyReplies) (Done, error) {
	s := req.Scope
	if len(s.items) == 0 {
		return Done{}, nil
	}
	if r.applyItems(s) && !s.live {
		live := &ordersv1alpha1.OrderSaga{}
		if err := r.APIReader.Get(ctx, s.key, live); err != nil {
			return Done{}, fmt.Errorf("read saga live: %w", err)
		}
		s.reset(live, true)
		r.applyItems(s)
	}
	return Done{}, nil
}

// applyItems applies the items to the working copy and reports whether any
// matched nothing.
func (r *OrderSagaReconciler) applyItems(s *scope) (unmatched bool) {
	for _, it := range s.items {
		out := r.Machine.Apply(s.saga, s.now, it.Event)
		s.verdicts[it] = out.Verdict
		s.transitions = append(s.transitions, out.Transitions...)
		unmatched = unmatched || out.Verdict == saga.Unmatched
	}
	return unmatched
}

// advanceSaga turns the saga's spec, metadata and the time into events.
//
// While the broker is disconnected nothing advances: no command could leave,
// and a timeout counted while it cannot would use up attempts for nothing.
// Replies already received are still applied (by ApplyReplies).
func (r *OrderSagaReconciler) advanceSaga(_ context.Context, req AdvanceSaga) (Done, error) {
	s := req.Scope
	obj := s.saga
	apply := func(ev saga.Event) {
		out := r.Machine.Apply(obj, s.now, ev)
		s.transitions = append(s.transitions, out.Transitions...)
		s.requeueAt = out.RequeueAt
	}
	var cancel *saga.Cancel
	switch {
	case !obj.DeletionTimestamp.IsZero():
		cancel = &saga.Cancel{Reason: ordersv1alpha1.ReasonDeleted}
	case obj.Spec.Cancel:
		cancel = &saga.Cancel{Reason: ordersv1alpha1.ReasonCancelled}
	}
	if !r.Publisher.Connected() {
		saga.Initialize(obj)
		// A saga that sent nothing can still end on cancel or deletion: it
		// needs no message for that.
		if cancel != nil && obj.Status.Phase == ordersv1alpha1.PhasePending {
			apply(*cancel)
		}
		s.requeueNoLaterThan(s.now.Add(r.brokerWait()))
		return Done{}, nil
	}
	if cancel != nil {
		apply(*cancel)
	}
	if token := obj.Annotations[ordersv1alpha1.RetryAnnotation]; token != "" {
		apply(saga.RetryRequested{Token: token})
	}
	apply(saga.Tick{})
	return Done{}, nil
}

// persistStatus writes the status if the pass changed it. The patch carries
// the resourceVersion read: if the read was stale, the write fails with a
// conflict and nothing of this pass takes effect, so a stale read can never
// send a command twice.
func (r *OrderSagaReconciler) persistStatus(ctx context.Context, req PersistStatus) (Done, error) {
	s := req.Scope
	if !equality.Semantic.DeepEqual(s.base.Status, s.saga.Status) {
		if err := r.Status().Patch(ctx, s.saga, client.MergeFromWithOptions(s.base, client.MergeFromWithOptimisticLock{})); err != nil {
			return Done{}, fmt.Errorf("patch status: %w", err)
		}
		r.Observer.StatusWritten(s.saga)
		s.persisted = true
		faults.Crash(faults.AfterStatusWrite)
	}
	for _, t := range s.transitions {
		if err := r.notifyTransition(ctx, SagaTransitioned{Saga: s.saga, Transition: t}); err != nil {
			ctrl.LoggerFrom(ctx).Info("Transition handler failed", "reason", t.Reason, "error", err.Error())
		}
	}
	return Done{}, nil
}

// settleReplies acknowledges or dead-letters the inbox items of the pass.
// It runs only after PersistStatus succeeded.
func (r *OrderSagaReconciler) settleReplies(ctx context.Context, req SettleReplies) (Done, error) {
	s := req.Scope
	for _, it := range s.items {
		if it.Delivery == nil {
			continue
		}
		faults.Crash(faults.BeforeAck)
		if s.verdicts[it] == saga.Unmatched {
			r.deadLetter(ctx, it, DeadLetterUnmatchedReply, "no message of the saga matches the reply's correlation id and headers")
			continue
		}
		// An ack fails only if the channel closed; the broker then
		// redelivers the reply, which the next pass finds a duplicate.
		if err := it.Delivery.Ack(false); err != nil {
			ctrl.LoggerFrom(ctx).V(1).Info("Reply not acknowledged; it will be redelivered",
				"messageID", it.Delivery.MessageId, "error", err.Error())
		}
	}
	r.Inbox.Remove(s.key, s.items)
	// Settled once: a pass started again (after a conflict) must not
	// acknowledge these deliveries a second time.
	s.items = nil
	return Done{}, nil
}

// dispatchCommands sends the in-flight messages this process has not sent.
// After a restart that is every message the status has in flight: each goes
// again with its own id, and participants drop the duplicates.
//
// A message is sent only on a view known to be the latest: this pass wrote
// the status, or the saga is read again live first. A cached view may be
// stale, and sending what a stale status has in flight would repeat a
// command that was answered long ago.
func (r *OrderSagaReconciler) dispatchCommands(ctx context.Context, req DispatchCommands) (Done, error) {
	s := req.Scope
	inFlight := saga.InFlight(s.saga)
	if !s.fresh() && r.anyUnsent(s.key, inFlight) {
		live := &ordersv1alpha1.OrderSaga{}
		if err := r.APIReader.Get(ctx, s.key, live); err != nil {
			return Done{}, client.IgnoreNotFound(fmt.Errorf("read saga live: %w", err))
		}
		s.saga, s.live = live, true
		inFlight = saga.InFlight(s.saga)
	}
	for _, d := range inFlight {
		if !s.fresh() || r.published.has(s.key, d.MessageID) {
			continue
		}
		key, msg, err := commandMessage(s.saga, d, r.Topology.ReplyQueue())
		if err != nil {
			return Done{}, err
		}
		err = r.publish(ctx, s.saga, d, key, msg)
		r.Observer.CommandPublished(d.Kind, err)
		var unroutable *amqpconn.UnroutableError
		switch {
		case err == nil:
			faults.Crash(faults.AfterPublish)
			r.published.add(s.key, d.MessageID)
		case errors.As(err, &unroutable):
			// Recorded by the next pass, as a failed attempt of the step.
			r.Inbox.Add(s.key, &InboxItem{Event: saga.DispatchFailed{
				Step: d.Step, MessageID: d.MessageID, Reason: saga.ReasonUnroutable, Message: unroutable.Error(),
			}, Received: s.now})
		default:
			// Not sent, or not confirmed: try again soon with the same id.
			ctrl.LoggerFrom(ctx).Info("Command not sent; retrying", "step", d.Step, "attempt", d.Attempt,
				"messageID", d.MessageID, "error", err.Error())
			s.requeueNoLaterThan(s.now.Add(r.brokerWait()))
		}
	}
	if s.fresh() {
		ids := make([]string, len(inFlight))
		for i, d := range inFlight {
			ids[i] = d.MessageID
		}
		r.published.retain(s.key, ids)
	}
	return Done{}, nil
}

// anyUnsent reports whether this process has not sent one of the messages.
func (r *OrderSagaReconciler) anyUnsent(key client.ObjectKey, inFlight []saga.Dispatch) bool {
	for _, d := range inFlight {
		if !r.published.has(key, d.MessageID) {
			return true
		}
	}
	return false
}

// finalizeSaga removes the finalizer of a deleted saga that has nothing left
// to undo. A saga that failed compensation is released too: deleting it is a
// person's decision to stop.
func (r *OrderSagaReconciler) finalizeSaga(ctx context.Context, req FinalizeSaga) (Done, error) {
	s := req.Scope
	obj := s.saga
	if obj.DeletionTimestamp.IsZero() || !obj.Status.Phase.IsFinal() ||
		!controllerutil.ContainsFinalizer(obj, ordersv1alpha1.Finalizer) {
		return Done{}, nil
	}
	base := obj.DeepCopy()
	controllerutil.RemoveFinalizer(obj, ordersv1alpha1.Finalizer)
	if err := r.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return Done{}, client.IgnoreNotFound(fmt.Errorf("remove finalizer: %w", err))
	}
	r.published.retain(s.key, nil)
	ctrl.LoggerFrom(ctx).Info("Finalizer removed", "phase", obj.Status.Phase)
	return Done{}, nil
}

// forget handles a saga that no longer exists: its pending replies can never
// be applied. The cache may lag behind a creation, so absence is confirmed
// with a live read before anything is dead-lettered.
func (r *OrderSagaReconciler) forget(ctx context.Context, key client.ObjectKey) (ctrl.Result, error) {
	r.published.retain(key, nil)
	items := r.Inbox.Peek(key)
	if len(items) == 0 {
		return ctrl.Result{}, nil
	}
	live := &ordersv1alpha1.OrderSaga{}
	err := r.APIReader.Get(ctx, key, live)
	switch {
	case err == nil && (live.DeletionTimestamp.IsZero() || controllerutil.ContainsFinalizer(live, ordersv1alpha1.Finalizer)):
		return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil // the cache has not seen it yet
	case err != nil && !apierrors.IsNotFound(err):
		return ctrl.Result{}, fmt.Errorf("read saga live: %w", err)
	}
	// Gone, or going without our finalizer (another one holds it): its
	// replies can never be applied.
	for _, it := range items {
		if it.Delivery != nil {
			r.deadLetter(ctx, it, DeadLetterUnknownSaga, fmt.Sprintf("no OrderSaga %s", key))
		}
	}
	r.Inbox.Remove(key, items)
	return ctrl.Result{}, nil
}

func (r *OrderSagaReconciler) deadLetter(ctx context.Context, it *InboxItem, reason, detail string) {
	r.ReplyObserver.ReplyDeadLettered(reason)
	ctrl.LoggerFrom(ctx).Info("Reply dead-lettered", "reason", reason, "messageID", it.Delivery.MessageId,
		"correlationID", it.Delivery.CorrelationId)
	if err := r.DeadLetters.DeadLetter(ctx, *it.Delivery, reason, detail); err != nil {
		ctrl.LoggerFrom(ctx).Info("Reply rejected to the queue's dead-letter policy", "error", err.Error())
	}
}

func (r *OrderSagaReconciler) brokerWait() time.Duration {
	if r.BrokerRetryInterval > 0 {
		return r.BrokerRetryInterval
	}
	return time.Second
}

// publish sends one message in a producer span of the saga's trace, whose
// context travels in the message's headers to the participant.
func (r *OrderSagaReconciler) publish(ctx context.Context, obj *ordersv1alpha1.OrderSaga, d saga.Dispatch, key string, msg amqpconn.Message) error {
	ctx, span := sagatrace.Tracer().Start(sagatrace.SagaContext(ctx, string(obj.UID)), "publish "+key,
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
			attribute.String("ordersaga.saga", obj.Namespace+"/"+obj.Name),
			attribute.String("ordersaga.step", d.Step),
			attribute.String("ordersaga.kind", string(d.Kind)),
			attribute.Int("ordersaga.attempt", int(d.Attempt)),
			attribute.String("messaging.message.id", d.MessageID),
		))
	defer span.End()
	sagatrace.Inject(ctx, msg.Headers)
	err := r.Publisher.Publish(ctx, r.Topology.CommandExchange(), key, msg)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
	}
	return err
}
