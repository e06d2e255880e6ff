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
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

const settleTimeout = 30 * time.Second

// failingWrites makes the reconciler's status writes fail while fail is set,
// with an error that is neither a conflict nor "not found": the pass returns
// it and controller-runtime retries the saga with backoff.
func failingWrites(fail *atomic.Bool) func(client.WithWatch) interceptor.Funcs {
	return func(client.WithWatch) interceptor.Funcs {
		return interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object,
			patch client.Patch, opts ...client.SubResourcePatchOption) error {
			if fail.Load() {
				return apierrors.NewInternalError(errors.New("admission webhook refused the status"))
			}
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		}}
	}
}

// apiserver is the ReplyReturner's view of the apiserver: it answers unless
// down is set.
type apiserver struct{ down atomic.Bool }

func (a *apiserver) ready(context.Context) error {
	if a.down.Load() {
		return errors.New("dial tcp 10.0.0.1:443: connect: connection refused")
	}
	return nil
}

func (h *harness) returner(api *apiserver) *ReplyReturner {
	return &ReplyReturner{Inbox: h.r.Inbox, SettleTimeout: settleTimeout, APIServerReady: api.ready,
		Observer: h.observed, Clock: h.clock, Log: logr.Discard()}
}

// failPass runs a pass that must fail.
func (h *harness) failPass(t *testing.T, key types.NamespacedName) {
	t.Helper()
	if _, err := h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key}); err == nil {
		t.Fatal("the pass succeeded; want it to fail")
	}
}

// A reply whose saga cannot be written is returned to the broker once it has
// stayed unsettled for the settle timeout: the broker redelivers it (and
// counts the delivery), so no reply is retried for ever in memory; once the
// saga can be written again, the redelivered copy is applied and
// acknowledged.
func TestReplyReturnerReturnsAReplyWhoseSagaKeepsFailing(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-poisoned")
	fail := &atomic.Bool{}
	h := newHarness(t, failingWrites(fail), s)
	h.reconcile(t, keyOf(s))
	command := h.publisher.messages()[0]
	fail.Store(true)
	ack := &fakeAcknowledger{}
	h.reply(t, command, protocol.StatusSucceeded, ack, 7)
	h.failPass(t, keyOf(s))
	returner := h.returner(&apiserver{})

	h.clock.SetTime(t0.Add(settleTimeout - time.Millisecond))
	returner.sweep(context.Background())
	g.Expect(ack.requeued).To(BeEmpty(), "not yet due")
	h.failPass(t, keyOf(s))

	h.clock.SetTime(t0.Add(settleTimeout + time.Millisecond))
	returner.sweep(context.Background())
	g.Expect(ack.requeued).To(Equal([]uint64{7}))
	g.Expect(ack.acked).To(BeEmpty())
	g.Expect(h.observed.returned).To(Equal(1))
	g.Expect(h.r.Inbox.Len()).To(BeZero(), "a reply returned is no longer held")
	g.Expect(h.deadLetters.letters).To(BeEmpty(), "the broker's delivery limit decides when it is poison")

	// the broker redelivering it once the saga can be written again.
	fail.Store(false)
	h.reply(t, command, protocol.StatusSucceeded, ack, 8)
	h.reconcile(t, keyOf(s))
	g.Expect(ack.acked).To(Equal([]uint64{8}))
	g.Expect(h.get(t, keyOf(s)).Status.Steps[0].State).To(Equal(ordersv1alpha1.StepSucceeded))
}

// The shape of the bug this bound closes: a reply naming a saga the cache
// does not have, whose live read fails with an error that is not "not
// found", used to be retried for ever, its delivery never settled.
func TestReplyReturnerReturnsAReplyWhoseLiveReadKeepsFailing(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t, nil)
	h.r.APIReader = interceptor.NewClient(h.api.(client.WithWatch), interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return errors.New("the server rejected our request for an unknown reason")
		}})
	key := types.NamespacedName{Namespace: testNamespace, Name: "order-unreadable"}
	ack := &fakeAcknowledger{}
	h.r.Inbox.Add(key, &InboxItem{Delivery: &amqp.Delivery{Acknowledger: ack, DeliveryTag: 9}, Event: saga.ReplyReceived{}, Received: t0})
	for range 5 {
		h.failPass(t, key)
	}
	h.clock.SetTime(t0.Add(settleTimeout + time.Second))
	h.returner(&apiserver{}).sweep(context.Background())
	g.Expect(ack.requeued).To(Equal([]uint64{9}))
	g.Expect(h.r.Inbox.Len()).To(BeZero())
}

// A reply is never returned while its saga's pass may still settle it: not
// before any pass has seen it, not while a pass runs, and not once a pass
// has settled it.
func TestReplyReturnerNeverReturnsAReplyAPassMaySettle(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-healthy")
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	returner := h.returner(&apiserver{})
	ack := &fakeAcknowledger{}

	// waiting for its first pass, however long.
	h.reply(t, h.publisher.messages()[0], protocol.StatusSucceeded, ack, 1)
	h.clock.SetTime(t0.Add(time.Hour))
	returner.sweep(context.Background())
	g.Expect(ack.requeued).To(BeEmpty())

	// settled by a pass that succeeds.
	h.reconcile(t, keyOf(s))
	returner.sweep(context.Background())
	g.Expect(ack.acked).To(Equal([]uint64{1}))
	g.Expect(ack.requeued).To(BeEmpty())

	// in view of a pass still running, even after a failed one.
	key := types.NamespacedName{Namespace: testNamespace, Name: "order-other"}
	h.r.Inbox.Add(key, &InboxItem{Delivery: &amqp.Delivery{Acknowledger: ack, DeliveryTag: 2}, Received: h.clock.Now()})
	h.r.Inbox.StartPass(key)() // a pass that left it unsettled
	endPass := h.r.Inbox.StartPass(key)
	h.clock.SetTime(h.clock.Now().Add(time.Hour))
	returner.sweep(context.Background())
	g.Expect(ack.requeued).To(BeEmpty(), "a running pass may still acknowledge it")
	endPass()
	returner.sweep(context.Background())
	g.Expect(ack.requeued).To(Equal([]uint64{2}))
	g.Expect(h.observed.returned).To(Equal(1))
}

// A pass that panics settles nothing: its replies count as left unsettled.
func TestAPanickingPassCountsAsFailed(t *testing.T) {
	g := NewWithT(t)
	inbox := NewInbox()
	key := types.NamespacedName{Namespace: testNamespace, Name: "order-panics"}
	ack := &fakeAcknowledger{}
	inbox.Add(key, &InboxItem{Delivery: &amqp.Delivery{Acknowledger: ack, DeliveryTag: 3}, Received: t0})
	func() {
		defer func() { _ = recover() }() // as controller-runtime recovers a panicking reconcile
		defer inbox.StartPass(key)()
		panic("a bug in a pass")
	}()
	observed := &countingReplyObserver{}
	returner := &ReplyReturner{Inbox: inbox, SettleTimeout: settleTimeout, APIServerReady: (&apiserver{}).ready,
		Observer: observed, Clock: fakeClockAt(t0.Add(time.Minute)), Log: logr.Discard()}
	returner.sweep(context.Background())
	g.Expect(ack.requeued).To(Equal([]uint64{3}))
}

// While the apiserver does not answer, replies are held rather than
// returned: an outage costs them no delivery, so none reaches the reply
// queue's delivery limit because of it. They are applied and acknowledged
// when the apiserver is back; meanwhile /readyz fails.
func TestReplyReturnerHoldsRepliesDuringAnAPIServerOutage(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-outage")
	fail := &atomic.Bool{}
	h := newHarness(t, failingWrites(fail), s)
	h.reconcile(t, keyOf(s))
	api := &apiserver{}
	returner := h.returner(api)
	fail.Store(true)
	api.down.Store(true)
	ack := &fakeAcknowledger{}
	h.reply(t, h.publisher.messages()[0], protocol.StatusSucceeded, ack, 5)
	h.failPass(t, keyOf(s))

	for _, after := range []time.Duration{time.Minute, 10 * time.Minute, 3 * time.Hour} {
		h.clock.SetTime(t0.Add(after))
		returner.sweep(context.Background())
		g.Expect(ack.requeued).To(BeEmpty(), "held after %s", after)
		g.Expect(h.r.Inbox.Len()).To(Equal(1))
	}
	g.Expect(returner.Check(nil)).To(MatchError(ContainSubstring("1 replies unsettled, the oldest for 3h0m0s")))

	// the apiserver back.
	api.down.Store(false)
	fail.Store(false)
	h.reconcile(t, keyOf(s))
	g.Expect(ack.acked).To(Equal([]uint64{5}))
	g.Expect(ack.requeued).To(BeEmpty())
	g.Expect(returner.Check(nil)).To(Succeed())
}

// /readyz fails once a reply has been held twice the settle timeout: a reply
// returned on time never makes it fail.
func TestReplyReturnerReadiness(t *testing.T) {
	g := NewWithT(t)
	inbox := NewInbox()
	clock := fakeClockAt(t0)
	returner := &ReplyReturner{Inbox: inbox, SettleTimeout: settleTimeout, Clock: clock}
	g.Expect(returner.Check(nil)).To(Succeed(), "nothing held")

	key := types.NamespacedName{Namespace: testNamespace, Name: "order-1"}
	inbox.Add(key, &InboxItem{Delivery: &amqp.Delivery{}, Received: t0})
	inbox.Add(key, &InboxItem{Event: saga.RetryRequested{}, Received: t0.Add(-time.Hour)}) // not a reply
	clock.SetTime(t0.Add(2 * settleTimeout))
	g.Expect(returner.Check(nil)).To(Succeed())
	n, oldest := inbox.UnsettledReplies()
	g.Expect(n).To(Equal(1))
	g.Expect(oldest).To(Equal(t0))

	clock.SetTime(t0.Add(2*settleTimeout + time.Second))
	g.Expect(returner.Check(nil)).To(MatchError("1 replies unsettled, the oldest for 1m1s (more than 1m0s)"))
}

func fakeClockAt(t time.Time) *clocktesting.FakePassiveClock {
	return clocktesting.NewFakePassiveClock(t)
}
