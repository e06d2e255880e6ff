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
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// newRequest is a SagaRequest by alice, as admission stores it.
func newRequest(name, sagaName string, verb ordersv1alpha1.SagaVerb, step string) *ordersv1alpha1.SagaRequest {
	return &ordersv1alpha1.SagaRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name, UID: uuid.NewUUID(),
			CreationTimestamp: metav1.Time{Time: t0}},
		Spec: ordersv1alpha1.SagaRequestSpec{Saga: sagaName, Verb: verb, Step: step, Reason: "ticket OPS-7",
			Requester: &ordersv1alpha1.Requester{Username: "alice", Groups: []string{"oncall"}}},
	}
}

func (h *harness) reconcileRequest(t *testing.T, sr *ordersv1alpha1.SagaRequest) *ordersv1alpha1.SagaRequest {
	t.Helper()
	key := client.ObjectKeyFromObject(sr)
	if _, err := h.requests.Reconcile(context.Background(), ctrl.Request{NamespacedName: key}); err != nil {
		t.Fatalf("Reconcile request: %v", err)
	}
	out := &ordersv1alpha1.SagaRequest{}
	if err := h.api.Get(context.Background(), key, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// woken drains the requests the sagas' passes woke.
func (h *harness) woken() []string {
	var out []string
	for {
		select {
		case e := <-h.requests.wakes():
			out = append(out, e.Object.GetName())
		default:
			return out
		}
	}
}

// recordedEvents drains the Events recorded so far.
func (h *harness) recordedEvents() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestSagaRequestSkipsAStuckStepOnceAndRecordsWhoAsked(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-21")
	sr := newRequest("skip-1", s.Name, ordersv1alpha1.VerbSkip, "reserve-inventory")
	h := newHarness(t, nil, s, sr)
	h.reconcile(t, keyOf(s)) // the reservation is sent; no reply comes

	// Sent twice before the saga's pass (a resync): applied once.
	g.Expect(h.reconcileRequest(t, sr).Status.Phase).To(BeEmpty())
	h.reconcileRequest(t, sr)
	g.Expect(h.r.Inbox.Len()).To(Equal(2))
	h.reconcile(t, keyOf(s))

	got := h.get(t, keyOf(s))
	g.Expect(got.Status.Steps[0].State).To(Equal(ordersv1alpha1.StepSkipped))
	g.Expect(got.Status.Steps[0].Message).To(ContainSubstring("requested by alice (SagaRequest skip-1): ticket OPS-7"))
	g.Expect(sentKeys(h.publisher.messages())).To(Equal([]string{"inventory.ReserveInventory", "payment.ChargePayment"}))
	g.Expect(strings.Count(strings.Join(h.reasons(), ","), string(ordersv1alpha1.TransitionSkipRequested))).To(Equal(1))
	g.Expect(h.recordedEvents()).To(ContainElement(And(ContainSubstring("Warning SkipRequested"), ContainSubstring("alice"))))

	g.Expect(h.woken()).To(ContainElement("skip-1"))
	done := h.reconcileRequest(t, sr)
	g.Expect(done.Status.Phase).To(Equal(ordersv1alpha1.RequestDone))
	g.Expect(done.Status.SagaUID).To(Equal(string(s.UID)))
	g.Expect(done.Status.Message).To(ContainSubstring("reserve-inventory skipped"))
	g.Expect(done.Status.HandledAt).NotTo(BeNil())

	// Done: never sent again.
	h.reconcileRequest(t, sr)
	g.Expect(h.r.Inbox.Len()).To(BeZero())
	// Sent again all the same (a redelivered command), the saga applies it
	// once: the machine knows the request's uid.
	_, err := h.requests.send(context.Background(), RequestVerb{Saga: keyOf(s), Request: verbOf(sr)})
	g.Expect(err).NotTo(HaveOccurred())
	h.reconcile(t, keyOf(s))
	g.Expect(strings.Count(strings.Join(h.reasons(), ","), string(ordersv1alpha1.TransitionSkipRequested))).To(Equal(1))
	g.Expect(sentKeys(h.publisher.messages())).To(Equal([]string{"inventory.ReserveInventory", "payment.ChargePayment"}))
}

func TestSagaRequestRefusedLeavesTheSagaAsItWas(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-22")
	sr := newRequest("undo-1", s.Name, ordersv1alpha1.VerbCompensate, "")
	h := newHarness(t, nil, s, sr)
	h.reconcile(t, keyOf(s))
	h.reconcileRequest(t, sr)
	h.reconcile(t, keyOf(s))

	got := h.get(t, keyOf(s))
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhaseRunning))
	g.Expect(got.Status.History[len(got.Status.History)-1].Reason).To(Equal(ordersv1alpha1.TransitionRequestRefused))
	g.Expect(h.publisher.messages()).To(HaveLen(1))
	refused := h.reconcileRequest(t, sr)
	g.Expect(refused.Status.Phase).To(Equal(ordersv1alpha1.RequestRefused))
	g.Expect(refused.Status.Message).To(ContainSubstring("Compensate applies only to a Completed saga; the saga is Running"))
}

func TestSagaRequestRefusedWithoutARequesterOrASaga(t *testing.T) {
	g := NewWithT(t)
	anonymous := newRequest("anon", "order-23", ordersv1alpha1.VerbCancel, "")
	anonymous.Spec.Requester = nil
	orphan := newRequest("orphan", "nope", ordersv1alpha1.VerbCancel, "")
	h := newHarness(t, nil, newSaga("order-23"), anonymous, orphan)

	got := h.reconcileRequest(t, anonymous)
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.RequestRefused))
	g.Expect(got.Status.Message).To(ContainSubstring("No requester"))
	got = h.reconcileRequest(t, orphan)
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.RequestRefused))
	g.Expect(got.Status.Message).To(ContainSubstring("No saga nope"))
	g.Expect(h.r.Inbox.Len()).To(BeZero())

	_, err := h.requests.send(context.Background(), RequestVerb{Saga: types.NamespacedName{Namespace: testNamespace, Name: "order-23"}})
	g.Expect(errors.Is(err, ErrInvalidVerbRequest)).To(BeTrue(), "err = %v", err)
}

func TestSagaRequestCompensatesARetiredSagaAndBringsItBack(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-24")
	sr := newRequest("return-1", s.Name, ordersv1alpha1.VerbCompensate, "")
	h := newHarness(t, nil, s, sr)
	h.completeSaga(t, s)
	retiredSaga := h.get(t, keyOf(s))
	g.Expect(retiredSaga.Status.Phase).To(Equal(ordersv1alpha1.PhaseCompleted))
	g.Expect(retiredSaga.Labels).To(HaveKeyWithValue(ordersv1alpha1.FinishedLabel, "true"))
	g.Expect(retiredSaga.Finalizers).To(BeEmpty())

	// Retired: out of the operator's cache.
	h.r.Client = interceptor.NewClient(h.api.(client.WithWatch), interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, isSaga := obj.(*ordersv1alpha1.OrderSaga); isSaga && key == keyOf(s) && retired(h.get(t, key)) {
				return apiNotFound(key)
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	h.reconcileRequest(t, sr)
	h.reconcile(t, keyOf(s))

	got := h.get(t, keyOf(s))
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhaseCompensating))
	g.Expect(got.Labels).NotTo(HaveKey(ordersv1alpha1.FinishedLabel))
	g.Expect(got.Annotations).NotTo(HaveKey(ordersv1alpha1.ExpiresAnnotation))
	g.Expect(got.Finalizers).To(ContainElement(ordersv1alpha1.Finalizer))
	g.Expect(got.Status.CompletionTime).To(BeNil())
	sent := h.publisher.messages()
	g.Expect(sent[len(sent)-1].RoutingKey).To(Equal("payment.RefundPayment"), "the last step with a compensation first")
	g.Expect(h.woken()).To(ContainElement("return-1"))
	g.Expect(h.reconcileRequest(t, sr).Status.Phase).To(Equal(ordersv1alpha1.RequestDone))

	// Back in the cache, it compensates to the end and retires again.
	h.reply(t, sent[len(sent)-1], protocol.StatusSucceeded, &fakeAcknowledger{}, 10)
	h.reconcile(t, keyOf(s))
	sent = h.publisher.messages()
	h.reply(t, sent[len(sent)-1], protocol.StatusSucceeded, &fakeAcknowledger{}, 11)
	h.reconcile(t, keyOf(s))
	got = h.get(t, keyOf(s))
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhaseCompensated))
	g.Expect(got.Labels).To(HaveKeyWithValue(ordersv1alpha1.FinishedLabel, "true"))
}

func TestSagaRequestResumesForwardARetiredSagaWhoseStepFailed(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-25")
	sr := newRequest("forward-1", s.Name, ordersv1alpha1.VerbResumeForward, "")
	h := newHarness(t, nil, s, sr)
	h.reconcile(t, keyOf(s))
	first := h.publisher.messages()[0]
	h.replyBecause(t, first, protocol.StatusFailed, "WarehouseOffline", &fakeAcknowledger{}, 1)
	h.reconcile(t, keyOf(s))
	retiredSaga := h.get(t, keyOf(s))
	g.Expect(retiredSaga.Status.Phase).To(Equal(ordersv1alpha1.PhaseCompensated), "nothing to undo")
	g.Expect(retiredSaga.Labels).To(HaveKeyWithValue(ordersv1alpha1.FinishedLabel, "true"))

	// Retired: out of the operator's cache.
	h.r.Client = interceptor.NewClient(h.api.(client.WithWatch), interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, isSaga := obj.(*ordersv1alpha1.OrderSaga); isSaga && key == keyOf(s) && retired(h.get(t, key)) {
				return apiNotFound(key)
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	h.reconcileRequest(t, sr)
	h.reconcile(t, keyOf(s))

	got := h.get(t, keyOf(s))
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhaseRunning))
	g.Expect(got.Status.RetryRound).To(BeEquivalentTo(1))
	g.Expect(got.Labels).NotTo(HaveKey(ordersv1alpha1.FinishedLabel))
	g.Expect(got.Finalizers).To(ContainElement(ordersv1alpha1.Finalizer))
	sent := h.publisher.messages()
	g.Expect(sentKeys(sent)).To(Equal([]string{"inventory.ReserveInventory", "inventory.ReserveInventory"}))
	g.Expect(sent[1].Message.MessageID).NotTo(Equal(first.Message.MessageID), "a new round: the participant must not answer from its record")
	g.Expect(h.recordedEvents()).To(ContainElement(And(ContainSubstring("Warning ResumeForwardRequested"), ContainSubstring("alice"))))
	g.Expect(h.reconcileRequest(t, sr).Status.Phase).To(Equal(ordersv1alpha1.RequestDone))

	// The old round's reply changes nothing; the new one moves the saga on.
	h.reply(t, first, protocol.StatusSucceeded, &fakeAcknowledger{}, 2)
	h.reconcile(t, keyOf(s))
	g.Expect(h.publisher.messages()).To(HaveLen(2))
	h.reply(t, sent[1], protocol.StatusSucceeded, &fakeAcknowledger{}, 3)
	h.reconcile(t, keyOf(s))
	g.Expect(sentKeys(h.publisher.messages())).To(Equal([]string{"inventory.ReserveInventory", "inventory.ReserveInventory", "payment.ChargePayment"}))
	// A retired saga had its events out: reviving it sends none again.
	once := eventTypes(h.publisher.events())
	g.Expect(once).To(HaveExactElements("SagaStarted", "StepFailed", "CompensationStarted", "SagaCompensated", "SagaStarted", "StepSucceeded"),
		"order services learn that the compensated saga runs again")
}
