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
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

const (
	testNamespace = "shop"
	// participantUser is the broker user the sample services' Participants
	// register, and their replies come from.
	participantUser = "svc"
)

func newSaga(name string, mutate ...func(*ordersv1alpha1.OrderSaga)) *ordersv1alpha1.OrderSaga {
	s := fixtures.NewSaga(testNamespace, name)
	s.UID = uuid.NewUUID() // replies are checked for a uid the apiserver could give
	for i := range s.Spec.Steps {
		s.Spec.Steps[i].Timeout = "5s"
		s.Spec.Steps[i].Retry = ordersv1alpha1.RetryPolicy{MaxAttempts: 1}
	}
	for _, f := range mutate {
		f(s)
	}
	return s
}

func keyOf(s *ordersv1alpha1.OrderSaga) types.NamespacedName { return client.ObjectKeyFromObject(s) }

func (h *harness) reconcile(t *testing.T, key types.NamespacedName) ctrl.Result {
	t.Helper()
	res, err := h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	return res
}

// reply queues a participant's reply to a sent message in the saga's
// inbox, as the reply router does, with a delivery acknowledged to ack.
func (h *harness) reply(t *testing.T, msg sentMessage, status protocol.Status, ack *fakeAcknowledger, tag uint64) {
	t.Helper()
	h.replyBecause(t, msg, status, "Because", ack, tag)
}

// replyBecause is reply with the reply's reason.
func (h *harness) replyBecause(t *testing.T, msg sentMessage, status protocol.Status, reason string, ack *fakeAcknowledger, tag uint64) {
	t.Helper()
	headers, err := protocol.ParseHeaders(msg.Message.Headers)
	if err != nil {
		t.Fatalf("headers of %s: %v", msg.RoutingKey, err)
	}
	it := &InboxItem{
		Delivery: &amqp.Delivery{Acknowledger: ack, DeliveryTag: tag, MessageId: fmt.Sprintf("reply-%d", tag),
			CorrelationId: msg.Message.MessageID, UserId: participantUser},
		Event: saga.ReplyReceived{Headers: headers, CorrelationID: msg.Message.MessageID, UserID: participantUser,
			Reply: protocol.Reply{Status: status, Reason: reason}},
		Received: h.clock.Now(),
	}
	h.r.Inbox.Add(types.NamespacedName{Namespace: headers.SagaNamespace, Name: headers.SagaName}, it)
}

func sentKeys(msgs []sentMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.RoutingKey
	}
	return out
}

func TestReconcileStartsASagaAndSendsItsFirstCommand(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-1")
	h := newHarness(t, nil, s)

	res := h.reconcile(t, keyOf(s))

	got := h.get(t, keyOf(s))
	g.Expect(got.Finalizers).To(ContainElement(ordersv1alpha1.Finalizer))
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhaseRunning))
	g.Expect(got.Status.Steps[0].State).To(Equal(ordersv1alpha1.StepRunning))
	sent := h.publisher.messages()
	g.Expect(sentKeys(sent)).To(Equal([]string{"inventory.ReserveInventory"}))
	g.Expect(sent[0].Exchange).To(Equal("test.commands"))
	g.Expect(sent[0].Message.MessageID).To(Equal(got.Status.Steps[0].MessageID), "the status names the message before it leaves")
	g.Expect(sent[0].Message.ReplyTo).To(Equal("test.replies"))
	g.Expect(sent[0].Message.UserID).To(Equal("operator"), "participants can tell the operator's commands by their user_id")
	g.Expect(h.reasons()).To(Equal([]string{"Started", "StepStarted"}))
	g.Expect(res.RequeueAfter).To(BeNumerically("~", 5*time.Second, 10*time.Millisecond), "woken at the step's timeout")
	g.Expect(h.recorder.Events).To(HaveLen(2))
}

func TestReconcileAppliesAReplyThenAcknowledgesItAndSendsTheNextCommand(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-2")
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	ack := &fakeAcknowledger{}
	h.reply(t, h.publisher.messages()[0], protocol.StatusSucceeded, ack, 7)

	h.reconcile(t, keyOf(s))

	got := h.get(t, keyOf(s))
	g.Expect(got.Status.Steps[0].State).To(Equal(ordersv1alpha1.StepSucceeded))
	g.Expect(got.Status.Steps[1].State).To(Equal(ordersv1alpha1.StepRunning))
	g.Expect(sentKeys(h.publisher.messages())).To(Equal([]string{"inventory.ReserveInventory", "payment.ChargePayment"}))
	g.Expect(ack.acked).To(Equal([]uint64{7}))
	g.Expect(h.r.Inbox.Len()).To(BeZero())
	g.Expect(h.deadLetters.letters).To(BeEmpty())
}

func TestReconcileDeadLettersAReplyThatMatchesNothing(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-3")
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	forged := h.publisher.messages()[0]
	forged.Message.MessageID = "not-a-message-of-the-saga"
	before := h.get(t, keyOf(s))
	ack := &fakeAcknowledger{}
	h.reply(t, forged, protocol.StatusSucceeded, ack, 1)

	h.reconcile(t, keyOf(s))

	g.Expect(h.deadLetters.letters).To(Equal([]deadLetter{{MessageID: "reply-1", Reason: DeadLetterUnmatchedReply}}))
	g.Expect(h.observed.deadLettered[DeadLetterUnmatchedReply]).To(Equal(1))
	g.Expect(ack.acked).To(BeEmpty())
	g.Expect(h.get(t, keyOf(s)).Status).To(Equal(before.Status), "a forged reply changes nothing")
	g.Expect(h.r.Inbox.Len()).To(BeZero())
}

// staleCache serves, for reads through the cache, the saga as snapshot
// holds it: a cache that has not seen the latest writes.
func staleCache(snapshot *ordersv1alpha1.OrderSaga) func(client.WithWatch) interceptor.Funcs {
	return func(client.WithWatch) interceptor.Funcs {
		return interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if s, ok := obj.(*ordersv1alpha1.OrderSaga); ok && key == keyOf(snapshot) {
				snapshot.DeepCopyInto(s)
				return nil
			}
			return c.Get(ctx, key, obj, opts...)
		}}
	}
}

func TestReconcileReadsLiveWhenAReplyAnswersWhatTheCacheHasNotSeen(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-4")
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	// A second reconciler, as after a restart, whose cache still shows the
	// saga before its first command was recorded.
	stale := h.get(t, keyOf(s))
	stale.Status = ordersv1alpha1.OrderSagaStatus{}
	h2 := newHarness(t, staleCache(stale), h.get(t, keyOf(s)))
	ack := &fakeAcknowledger{}
	h2.reply(t, h.publisher.messages()[0], protocol.StatusSucceeded, ack, 3)

	h2.reconcile(t, keyOf(s))

	g.Expect(h2.deadLetters.letters).To(BeEmpty(), "the reply answers a command the live status records")
	g.Expect(ack.acked).To(Equal([]uint64{3}))
	g.Expect(h2.get(t, keyOf(s)).Status.Steps[0].State).To(Equal(ordersv1alpha1.StepSucceeded))
	g.Expect(sentKeys(h2.publisher.messages())).To(Equal([]string{"payment.ChargePayment"}))
}

func TestReconcileResendsWhatTheStatusHasInFlightAfterARestart(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-5")
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	first := h.publisher.messages()[0]

	// A new process: nothing is known to be sent; nothing changes in the
	// status, so the pass reads the saga live before it sends.
	h2 := newHarness(t, nil, h.get(t, keyOf(s)))
	h2.clock.SetTime(t0.Add(time.Second))
	h2.reconcile(t, keyOf(s))
	h2.reconcile(t, keyOf(s))

	again := h2.publisher.messages()
	g.Expect(again).To(HaveLen(1), "sent once per process")
	g.Expect(again[0].Message.MessageID).To(Equal(first.Message.MessageID))
	g.Expect(again[0].Message.Timestamp).To(Equal(first.Message.Timestamp), "the same message, not a new attempt")
	g.Expect(again[0].Message.Body).To(Equal(first.Message.Body))
}

func TestReconcileRestartsOnceFromALiveReadWhenTheStatusWriteConflicts(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-6")
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	ack := &fakeAcknowledger{}
	h.reply(t, h.publisher.messages()[0], protocol.StatusSucceeded, ack, 9)
	// The cache serves the saga with an old resourceVersion: the write
	// conflicts, and the pass runs again on a live read.
	stale := h.get(t, keyOf(s))
	stale.ResourceVersion = "1"
	h2 := newHarness(t, staleCache(stale), h.get(t, keyOf(s)))
	h2.r.Inbox = h.r.Inbox

	h2.reconcile(t, keyOf(s))

	g.Expect(ack.acked).To(Equal([]uint64{9}), "acknowledged once, after the write that records it")
	g.Expect(h2.get(t, keyOf(s)).Status.Steps[0].State).To(Equal(ordersv1alpha1.StepSucceeded))
	g.Expect(sentKeys(h2.publisher.messages())).To(Equal([]string{"payment.ChargePayment"}))
	g.Expect(slices.Contains(h2.reasons(), "StepSucceeded")).To(BeTrue())
}

func TestPersistStatusReportsAConflictAsAStaleView(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-7")
	h := newHarness(t, nil, s)
	base := h.get(t, keyOf(s))
	base.ResourceVersion = "1"
	changed := base.DeepCopy()
	changed.Status.Phase = ordersv1alpha1.PhaseRunning
	g.Expect(h.api.Update(context.Background(), h.get(t, keyOf(s)))).To(Succeed()) // a newer resourceVersion

	_, err := h.r.persistStatus(context.Background(), PersistStatus{Base: base, Saga: changed})

	g.Expect(errors.Is(err, errStaleView)).To(BeTrue(), "err = %v", err)
	written, err := h.r.persistStatus(context.Background(), PersistStatus{Base: base, Saga: base.DeepCopy()})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(written.Written).To(BeFalse(), "an unchanged status is not written")
}

func TestDispatchCommands(t *testing.T) {
	errNotConfirmed := errors.New("not confirmed")
	tests := []struct {
		name      string
		fresh     bool
		published bool // the process sent the message already
		errFor    func(string) error
		wantErr   error
		wantSent  int
		wantRetry bool
		wantInbox int
	}{
		{name: "fresh view, unsent: sent", fresh: true, wantSent: 1},
		{name: "fresh view, sent already: not again", fresh: true, published: true},
		{name: "stale view, unsent: read live first", wantErr: errStaleView},
		{name: "stale view, sent already: nothing to do", published: true},
		{name: "unroutable: the next pass records a failed attempt", fresh: true, wantInbox: 1,
			errFor: func(key string) error { return &amqpconn.UnroutableError{RoutingKey: key} }},
		{name: "not confirmed: tried again later", fresh: true, wantRetry: true,
			errFor: func(string) error { return errNotConfirmed }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			s := newSaga("order-d")
			saga.Initialize(s)
			saga.Machine{}.Apply(s, t0, saga.Tick{})
			h := newHarness(t, nil, s)
			h.publisher.errFor = tt.errFor
			if tt.published {
				h.r.published.add(keyOf(s), s.Status.Steps[0].MessageID, s.Status.Steps[0].TimeoutAt.Time)
			}

			out, err := h.r.dispatchCommands(context.Background(), DispatchCommands{Saga: s, Fresh: tt.fresh, Now: t0})

			if tt.wantErr != nil {
				g.Expect(errors.Is(err, tt.wantErr)).To(BeTrue(), "err = %v", err)
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out.Sent).To(Equal(tt.wantSent))
			g.Expect(h.publisher.messages()).To(HaveLen(tt.wantSent))
			g.Expect(!out.RetryAt.IsZero()).To(Equal(tt.wantRetry))
			g.Expect(h.r.Inbox.Len()).To(Equal(tt.wantInbox))
			if tt.wantRetry {
				g.Expect(out.RetryAt).To(Equal(t0.Add(time.Second)))
				g.Expect(h.r.published.has(keyOf(s), s.Status.Steps[0].MessageID, s.Status.Steps[0].TimeoutAt.Time)).To(BeFalse(), "sent again next time")
			}
		})
	}
}

func TestReconcileWhileTheBrokerIsDisconnected(t *testing.T) {
	g := NewWithT(t)
	running := newSaga("order-8")
	cancelled := newSaga("order-9", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Cancel = true })
	h := newHarness(t, nil, running, cancelled)
	h.publisher.setDownSince(t0)

	res := h.reconcile(t, keyOf(running))
	h.reconcile(t, keyOf(cancelled))

	g.Expect(h.publisher.messages()).To(BeEmpty())
	g.Expect(h.get(t, keyOf(running)).Status.Phase).To(Equal(ordersv1alpha1.PhasePending))
	g.Expect(res.RequeueAfter).To(BeNumerically("~", pausedRecheckInterval, 10*time.Millisecond))
	g.Expect(h.get(t, keyOf(cancelled)).Status.Phase).To(Equal(ordersv1alpha1.PhaseCompensated),
		"a saga that sent nothing ends on cancel without the broker")
}

func TestReconcileReleasesADeletedSagaOnceCompensated(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-10")
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	g.Expect(h.api.Delete(context.Background(), h.get(t, keyOf(s)))).To(Succeed())

	h.reconcile(t, keyOf(s)) // compensates the step in flight
	ack := &fakeAcknowledger{}
	h.reply(t, h.publisher.messages()[1], protocol.StatusSucceeded, ack, 1)
	h.reconcile(t, keyOf(s))

	g.Expect(sentKeys(h.publisher.messages())).To(Equal([]string{"inventory.ReserveInventory", "inventory.ReleaseInventory"}))
	err := h.api.Get(context.Background(), keyOf(s), &ordersv1alpha1.OrderSaga{})
	g.Expect(client.IgnoreNotFound(err)).To(Succeed())
	g.Expect(err).To(HaveOccurred(), "the finalizer is removed and the saga is gone")
	g.Expect(h.r.published.ids).To(BeEmpty(), "nothing is remembered of a gone saga")
}

func TestForget(t *testing.T) {
	t.Run("a gone saga's replies are dead-lettered", func(t *testing.T) {
		g := NewWithT(t)
		h := newHarness(t, nil)
		key := types.NamespacedName{Namespace: testNamespace, Name: "ghost"}
		h.r.Inbox.Add(key, &InboxItem{Delivery: &amqp.Delivery{MessageId: "r1", Acknowledger: &fakeAcknowledger{}}, Event: saga.ReplyReceived{}})

		h.reconcile(t, key)

		g.Expect(h.deadLetters.letters).To(Equal([]deadLetter{{MessageID: "r1", Reason: DeadLetterUnknownSaga}}))
		g.Expect(h.r.Inbox.Len()).To(BeZero())
	})
	t.Run("a saga the cache has not seen yet keeps its replies", func(t *testing.T) {
		g := NewWithT(t)
		s := newSaga("new")
		h := newHarness(t, func(client.WithWatch) interceptor.Funcs {
			return interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
				return apiNotFound(keyOf(s))
			}}
		}, s)
		h.r.Inbox.Add(keyOf(s), &InboxItem{Delivery: &amqp.Delivery{MessageId: "r1"}, Event: saga.ReplyReceived{}})

		res := h.reconcile(t, keyOf(s))

		g.Expect(h.deadLetters.letters).To(BeEmpty())
		g.Expect(h.r.Inbox.Len()).To(Equal(1))
		g.Expect(res.RequeueAfter).To(Equal(cacheLagRequeueDelay))
	})
}

func TestRequestRetry(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-11", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps = s.Spec.Steps[:2] })
	h := newHarness(t, nil, s)
	ctx := context.Background()

	_, err := h.r.retry(ctx, RequestRetry{Saga: types.NamespacedName{Namespace: testNamespace, Name: "nope"}, Token: "a"})
	g.Expect(errors.Is(err, ErrSagaNotFound)).To(BeTrue(), "err = %v", err)
	_, err = h.r.retry(ctx, RequestRetry{Saga: keyOf(s)})
	g.Expect(errors.Is(err, ErrInvalidRetryToken)).To(BeTrue(), "err = %v", err)

	// Drive the saga to Failed: its second step fails, then the first
	// step's compensation.
	h.reconcile(t, keyOf(s))
	h.reply(t, h.publisher.messages()[0], protocol.StatusSucceeded, &fakeAcknowledger{}, 1)
	h.reconcile(t, keyOf(s))
	h.reply(t, h.publisher.messages()[1], protocol.StatusFailed, &fakeAcknowledger{}, 2)
	h.reconcile(t, keyOf(s))
	h.reply(t, h.publisher.messages()[2], protocol.StatusFailed, &fakeAcknowledger{}, 3)
	h.reconcile(t, keyOf(s))
	g.Expect(h.get(t, keyOf(s)).Status.Phase).To(Equal(ordersv1alpha1.PhaseFailed))

	queued, err := h.r.retry(ctx, RequestRetry{Saga: keyOf(s), Token: "t1"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(queued.Queued).To(BeTrue())
	h.reconcile(t, keyOf(s))

	got := h.get(t, keyOf(s))
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhaseCompensating))
	g.Expect(got.Status.LastHandledRetry).To(Equal("t1"))
	sent := h.publisher.messages()
	g.Expect(sentKeys(sent)).To(Equal([]string{"inventory.ReserveInventory", "payment.ChargePayment",
		"inventory.ReleaseInventory", "inventory.ReleaseInventory"}))
	g.Expect(sent[3].Message.MessageID).NotTo(Equal(sent[2].Message.MessageID), "a new round, a new message")

	queued, err = h.r.retry(ctx, RequestRetry{Saga: keyOf(s), Token: "t1"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(queued.Queued).To(BeFalse(), "a token acted upon is not acted upon again")
}

func TestQuerySaga(t *testing.T) {
	one := newSaga("order-12")
	twinA := newSaga("twin-a", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.ID = "ORD-TWIN" })
	twinB := newSaga("twin-b", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.ID = "ORD-TWIN" })
	h := newHarness(t, nil, one, twinA, twinB)
	tests := []struct {
		name     string
		query    GetSaga
		wantName string
		wantErr  error
	}{
		{name: "by name", query: GetSaga{Namespace: testNamespace, Name: "order-12"}, wantName: "order-12"},
		{name: "by order id", query: GetSaga{Namespace: testNamespace, OrderID: "ORD-order-12"}, wantName: "order-12"},
		{name: "unknown name", query: GetSaga{Namespace: testNamespace, Name: "x"}, wantErr: ErrSagaNotFound},
		{name: "order id of another namespace", query: GetSaga{Namespace: "other", OrderID: "ORD-order-12"}, wantErr: ErrSagaNotFound},
		{name: "order id of two sagas", query: GetSaga{Namespace: testNamespace, OrderID: "ORD-TWIN"}, wantErr: ErrAmbiguousOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := h.r.getSaga(context.Background(), tt.query)
			if tt.wantErr != nil {
				g.Expect(errors.Is(err, tt.wantErr)).To(BeTrue(), "err = %v", err)
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Key.Name).To(Equal(tt.wantName))
			g.Expect(got.OrderID).To(Equal("ORD-" + tt.wantName))
		})
	}
}

func TestEventPolicy(t *testing.T) {
	transitions := map[string]saga.Transition{
		"phase":        {Reason: "Completed"},
		"sent":         {Reason: "StepStarted", Step: "pay"},
		"compensating": {Reason: "StepCompensating", Step: "pay"},
		"outcome":      {Reason: "StepSucceeded", Step: "pay"},
		"failed":       {Reason: "StepFailed", Step: "pay", Warning: true},
		"compensated":  {Reason: "Compensated", Warning: true},
		"drilled":      {Reason: "StepDrilled", Step: "pay"},
		"verb":         {Reason: "RetryRequested", Request: "retry-1"},
	}
	want := map[EventPolicy][]string{
		EventsAll:      {"phase", "sent", "compensating", "outcome", "failed", "compensated", "drilled", "verb"},
		EventsOutcomes: {"phase", "outcome", "failed", "compensated", "drilled", "verb"},
		EventsPhases:   {"phase", "compensated", "verb"},
		EventsWarnings: {"failed", "compensated", "drilled", "verb"},
	}
	for policy, recorded := range want {
		for name, tr := range transitions {
			if got := policy.records(tr); got != slices.Contains(recorded, name) {
				t.Errorf("policy %q, transition %s: records %v", policy, name, got)
			}
		}
	}
	if EventPolicy("verbose").Valid() || !EventsPhases.Valid() || !EventsWarnings.Valid() || DefaultEventPolicy != EventsWarnings {
		t.Error("Valid")
	}
}

// A broker outage longer than a step's timeout fails nothing: the saga's
// timers pause from the moment the broker was lost and resume, moved later
// by the pause, when it is back.
func TestReconcilePausesTimersWhileTheBrokerIsUnavailable(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-13") // steps time out after 5s
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	sent := h.publisher.messages()
	g.Expect(sent).To(HaveLen(1))

	h.publisher.setDownSince(t0.Add(time.Second))
	h.clock.SetTime(t0.Add(10 * time.Second)) // the step's timeout has passed
	res := h.reconcile(t, keyOf(s))

	paused := h.get(t, keyOf(s))
	g.Expect(paused.Status.Steps[0].State).To(Equal(ordersv1alpha1.StepRunning), "no timeout while the broker is away")
	g.Expect(paused.Status.TimersPausedAt).NotTo(BeNil())
	g.Expect(paused.Status.TimersPausedAt.Time).To(BeTemporally("==", t0.Add(time.Second)), "paused from when the broker was lost")
	g.Expect(res.RequeueAfter).To(BeNumerically("~", pausedRecheckInterval, 10*time.Millisecond))

	h.publisher.setDownSince(time.Time{})
	h.clock.SetTime(t0.Add(20 * time.Second))
	res = h.reconcile(t, keyOf(s))

	resumed := h.get(t, keyOf(s))
	g.Expect(resumed.Status.TimersPausedAt).To(BeNil())
	g.Expect(resumed.Status.Steps[0].State).To(Equal(ordersv1alpha1.StepRunning))
	g.Expect(resumed.Status.Steps[0].Attempts).To(Equal(int32(1)))
	g.Expect(resumed.Status.Steps[0].TimedOutAttempts).To(BeZero())
	g.Expect(resumed.Status.Steps[0].TimeoutAt.Time).To(BeTemporally("==", t0.Add(5*time.Second+19*time.Second)), "moved later by the 19s pause")
	g.Expect(res.RequeueAfter).To(BeNumerically("~", 4*time.Second, 10*time.Millisecond))
	again := h.publisher.messages()
	g.Expect(again).To(HaveLen(2), "the command goes again with its moved deadline")
	g.Expect(again[1].Message.MessageID).To(Equal(sent[0].Message.MessageID), "the same message: the same attempt")
	moved, err := protocol.ParseHeaders(again[1].Message.Headers)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(moved.Deadline).To(BeTemporally("==", t0.Add(24*time.Second)))

	// The participant refuses the first copy, which waited past its
	// deadline: that costs no attempt. The second copy runs.
	h.replyBecause(t, sent[0], protocol.StatusRetryable, protocol.ReasonCommandExpired, &fakeAcknowledger{}, 1)
	h.reconcile(t, keyOf(s))
	g.Expect(h.get(t, keyOf(s)).Status.Steps[0].State).To(Equal(ordersv1alpha1.StepRunning))
	g.Expect(h.get(t, keyOf(s)).Status.Steps[0].NextAttemptAt).To(BeNil())
	h.reply(t, again[1], protocol.StatusSucceeded, &fakeAcknowledger{}, 2)
	h.reconcile(t, keyOf(s))
	g.Expect(h.get(t, keyOf(s)).Status.Steps[0].State).To(Equal(ordersv1alpha1.StepSucceeded))
}

func TestBrokerWatchWakesSagasInProgressWhenTheBrokerIsBack(t *testing.T) {
	g := NewWithT(t)
	running := newSaga("running")
	// A Completed saga still in the cache has yet to publish its events
	// and retire; a Failed one with its events out waits for a person.
	done := newSaga("done", func(s *ordersv1alpha1.OrderSaga) { s.Status.Phase = ordersv1alpha1.PhaseCompleted })
	failed := newSaga("failed", func(s *ordersv1alpha1.OrderSaga) { s.Status.Phase = ordersv1alpha1.PhaseFailed })
	pending := newSaga("pending")
	h := newHarness(t, nil, running, done, failed, pending)
	h.publisher.setDownSince(t0)
	w := newBrokerWatch(h.publisher, h.api)
	w.interval = time.Millisecond
	go func() { _ = w.Start(t.Context()) }()

	g.Consistently(w.events).WithTimeout(50*time.Millisecond).ShouldNot(Receive(), "nothing is woken while the broker is away")
	h.publisher.setDownSince(time.Time{})

	woken := make([]string, 0, 3)
	for range 3 {
		var e event.GenericEvent
		g.Eventually(w.events).Should(Receive(&e))
		woken = append(woken, e.Object.GetName())
	}
	g.Expect(woken).To(ConsistOf("running", "done", "pending"))
	g.Consistently(w.events).WithTimeout(50*time.Millisecond).ShouldNot(Receive(), "a Failed saga is not woken")
}

func (h *harness) participant(t *testing.T, name string) *ordersv1alpha1.Participant {
	t.Helper()
	p := &ordersv1alpha1.Participant{}
	if err := h.api.Get(context.Background(), types.NamespacedName{Name: name}, p); err != nil {
		t.Fatalf("get participant %s: %v", name, err)
	}
	return p
}

func TestReconcileSendsNothingToAServiceThatIsNotRegistered(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-14")
	h := newHarness(t, nil, s)
	payment := h.participant(t, "payment")
	g.Expect(h.api.Delete(context.Background(), h.participant(t, "inventory"))).To(Succeed())

	h.reconcile(t, keyOf(s))

	got := h.get(t, keyOf(s))
	g.Expect(h.publisher.messages()).To(BeEmpty())
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhaseRunning))
	blocked := meta.FindStatusCondition(got.Status.Conditions, ordersv1alpha1.ConditionBlocked)
	g.Expect(blocked).NotTo(BeNil())
	g.Expect(blocked.Reason).To(Equal(ordersv1alpha1.ReasonParticipantNotRegistered))
	g.Expect(blocked.Message).To(ContainSubstring("no Participant inventory"))

	// A Participant registered later (GitOps applied it after the saga)
	// wakes the sagas that name it.
	inventory := fixtures.NewParticipants(participantUser)[0]
	g.Expect(h.api.Create(context.Background(), inventory)).To(Succeed())
	g.Expect(h.r.sagasOfParticipant(context.Background(), inventory)).To(ConsistOf(ctrl.Request{NamespacedName: keyOf(s)}))
	g.Expect(h.r.sagasOfParticipant(context.Background(), payment)).To(ConsistOf(ctrl.Request{NamespacedName: keyOf(s)}))
	h.reconcile(t, keyOf(s))
	g.Expect(sentKeys(h.publisher.messages())).To(Equal([]string{"inventory.ReserveInventory"}))
	g.Expect(meta.FindStatusCondition(h.get(t, keyOf(s)).Status.Conditions, ordersv1alpha1.ConditionBlocked)).To(BeNil())
}

func TestReconcileFailsASagaInANamespaceAParticipantDoesNotAdmit(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-15")
	h := newHarness(t, nil, s)
	payment := h.participant(t, "payment")
	payment.Spec.NamespaceSelector = metav1.LabelSelector{MatchLabels: map[string]string{"payments": "allowed"}}
	g.Expect(h.api.Update(context.Background(), payment)).To(Succeed())

	h.reconcile(t, keyOf(s))

	got := h.get(t, keyOf(s))
	g.Expect(h.publisher.messages()).To(BeEmpty(), "no command is sent, not even to the services that admit it")
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhaseCompensated))
	g.Expect(h.reasons()).To(Equal([]string{string(ordersv1alpha1.TransitionNamespaceNotAdmitted)}))
	g.Expect(<-h.recorder.Events).To(ContainSubstring("Participant payment does not admit namespace shop"))
}

func TestReconcilePausesASagaWhoseParticipantIsSuspended(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-16")
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	sent := h.publisher.messages()
	inventory := h.participant(t, "inventory")
	inventory.Spec.Suspend = true
	g.Expect(h.api.Update(context.Background(), inventory)).To(Succeed())

	h.clock.SetTime(t0.Add(time.Second))
	res := h.reconcile(t, keyOf(s))

	paused := h.get(t, keyOf(s))
	g.Expect(paused.Status.TimersPausedAt).NotTo(BeNil())
	g.Expect(res.RequeueAfter).To(BeZero(), "the Participant's resumption wakes it")
	blocked := meta.FindStatusCondition(paused.Status.Conditions, ordersv1alpha1.ConditionBlocked)
	g.Expect(blocked).NotTo(BeNil())
	g.Expect(blocked.Reason).To(Equal(ordersv1alpha1.ReasonParticipantSuspended))
	g.Expect(blocked.Message).To(ContainSubstring("Participant inventory is suspended"))

	// The reply to the command already sent is still recorded; the next
	// step's participant is not suspended, so the saga goes on.
	h.clock.SetTime(t0.Add(time.Minute)) // past the step's timeout: paused, it does not fire
	h.reply(t, sent[0], protocol.StatusSucceeded, &fakeAcknowledger{}, 1)
	h.reconcile(t, keyOf(s))
	got := h.get(t, keyOf(s))
	g.Expect(got.Status.Steps[0].State).To(Equal(ordersv1alpha1.StepSucceeded))
	g.Expect(got.Status.TimersPausedAt).To(BeNil())
	g.Expect(sentKeys(h.publisher.messages())).To(Equal([]string{"inventory.ReserveInventory", "payment.ChargePayment"}))
}

func TestReconcileDeadLettersAReplyFromAnotherBrokerUser(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-17")
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	payment := h.participant(t, "payment")
	payment.Spec.BrokerUser = "svc-payment"
	g.Expect(h.api.Update(context.Background(), payment)).To(Succeed())
	inventory := h.participant(t, "inventory")
	inventory.Spec.BrokerUser = "svc-inventory"
	g.Expect(h.api.Update(context.Background(), inventory)).To(Succeed())
	ack := &fakeAcknowledger{}
	h.reply(t, h.publisher.messages()[0], protocol.StatusSucceeded, ack, 4) // as "svc", not "svc-inventory"

	h.reconcile(t, keyOf(s))

	g.Expect(h.deadLetters.letters).To(Equal([]deadLetter{{MessageID: "reply-4", Reason: DeadLetterUnauthenticatedReply}}))
	g.Expect(h.observed.deadLettered[DeadLetterUnauthenticatedReply]).To(Equal(1))
	g.Expect(h.get(t, keyOf(s)).Status.Steps[0].State).To(Equal(ordersv1alpha1.StepRunning), "a forged reply changes nothing")
}

func TestReconcileRunsTheTemplateAsItWasWhenTheSagaStarted(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	fromTemplate := func(name string) *ordersv1alpha1.OrderSaga {
		return newSaga(name, func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps = nil
			s.Spec.TemplateRef = &ordersv1alpha1.TemplateReference{Name: "checkout"}
		})
	}
	first := fromTemplate("order-18")
	h := newHarness(t, nil, first)

	h.reconcile(t, keyOf(first))
	waiting := h.get(t, keyOf(first))
	g.Expect(h.publisher.messages()).To(BeEmpty())
	g.Expect(waiting.Status.Phase).To(Equal(ordersv1alpha1.PhasePending))
	blocked := meta.FindStatusCondition(waiting.Status.Conditions, ordersv1alpha1.ConditionBlocked)
	g.Expect(blocked).NotTo(BeNil())
	g.Expect(blocked.Reason).To(Equal(ordersv1alpha1.ReasonTemplateNotFound))

	tpl := &ordersv1alpha1.SagaTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "checkout", Generation: 1},
		Spec:       ordersv1alpha1.SagaTemplateSpec{Steps: newSaga("x").Spec.Steps, Deadline: "1h"},
	}
	g.Expect(h.api.Create(ctx, tpl)).To(Succeed())
	g.Expect(h.r.sagasWaitingForTemplate(ctx, tpl)).To(ConsistOf(ctrl.Request{NamespacedName: keyOf(first)}))
	h.reconcile(t, keyOf(first))
	started := h.get(t, keyOf(first))
	g.Expect(started.Status.Template).NotTo(BeNil())
	g.Expect(started.Status.Template.Name).To(Equal("checkout"))
	g.Expect(started.Status.Template.Steps).To(HaveLen(3))
	g.Expect(started.RunDeadline()).To(Equal(ordersv1alpha1.Duration("1h")))
	g.Expect(sentKeys(h.publisher.messages())).To(Equal([]string{"inventory.ReserveInventory"}))

	// The template loses its first step: the running saga keeps it, a new
	// saga runs the new version.
	g.Expect(h.api.Get(ctx, client.ObjectKeyFromObject(tpl), tpl)).To(Succeed())
	tpl.Spec.Steps = tpl.Spec.Steps[1:]
	tpl.Generation = 2 // as the apiserver counts a spec change; the fake client does not
	g.Expect(h.api.Update(ctx, tpl)).To(Succeed())
	h.reply(t, h.publisher.messages()[0], protocol.StatusSucceeded, &fakeAcknowledger{}, 1)
	h.reconcile(t, keyOf(first))
	g.Expect(h.get(t, keyOf(first)).Status.Template.Steps).To(HaveLen(3))
	g.Expect(sentKeys(h.publisher.messages())).To(Equal([]string{"inventory.ReserveInventory", "payment.ChargePayment"}))

	second := fromTemplate("order-19")
	g.Expect(h.api.Create(ctx, second)).To(Succeed())
	h.reconcile(t, keyOf(second))
	pinned := h.get(t, keyOf(second)).Status.Template
	g.Expect(pinned.Steps).To(HaveLen(2))
	g.Expect(pinned.Generation).To(Equal(int64(2)))
	g.Expect(sentKeys(h.publisher.messages())[2]).To(Equal("payment.ChargePayment"))
}
