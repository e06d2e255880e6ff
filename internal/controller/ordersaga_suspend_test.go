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
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func (h *harness) setSuspend(t *testing.T, s *ordersv1alpha1.OrderSaga, suspend bool) {
	t.Helper()
	got := h.get(t, keyOf(s))
	got.Spec.Suspend = suspend
	got.Generation++
	if err := h.api.Update(context.Background(), got); err != nil {
		t.Fatal(err)
	}
}

func TestASuspendedSagaSendsNothingEvenAfterARestartAndGoesOnWhenResumed(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-suspend")
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	g.Expect(h.publisher.messages()).To(HaveLen(1))
	h.setSuspend(t, s, true)

	res := h.reconcile(t, keyOf(s))

	got := h.get(t, keyOf(s))
	g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, ordersv1alpha1.ConditionSuspended)).To(BeTrue())
	g.Expect(got.Status.TimersPausedAt).NotTo(BeNil())
	g.Expect(res.RequeueAfter).To(BeZero(), "no timer runs; resuming is a spec change, which wakes it")
	g.Expect(h.reasons()).To(ContainElement("Suspended"))

	h.r.published = newPublishedSet() // a restart: the in-flight command would normally go again
	h.reply(t, h.publisher.messages()[0], protocol.StatusSucceeded, &fakeAcknowledger{}, 1)
	h.reconcile(t, keyOf(s))

	g.Expect(h.get(t, keyOf(s)).Status.Steps[0].State).To(Equal(ordersv1alpha1.StepSucceeded), "replies are still recorded")
	g.Expect(h.publisher.messages()).To(HaveLen(1), "nothing leaves a suspended saga, not even a resend")

	h.setSuspend(t, s, false)
	h.reconcile(t, keyOf(s))

	got = h.get(t, keyOf(s))
	g.Expect(meta.FindStatusCondition(got.Status.Conditions, ordersv1alpha1.ConditionSuspended)).To(BeNil())
	g.Expect(got.Status.TimersPausedAt).To(BeNil())
	g.Expect(sentKeys(h.publisher.messages())).To(Equal([]string{"inventory.ReserveInventory", "payment.ChargePayment"}))
	g.Expect(h.reasons()).To(ContainElement("Resumed"))
}

func TestACancelOfASuspendedSagaWaitsForItsResumption(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-suspend-cancel")
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	got := h.get(t, keyOf(s))
	got.Spec.Suspend, got.Spec.Cancel = true, true
	g.Expect(h.api.Update(context.Background(), got)).To(Succeed())

	h.reconcile(t, keyOf(s))

	g.Expect(h.get(t, keyOf(s)).Status.Phase).To(Equal(ordersv1alpha1.PhaseRunning), "compensating would send")
	h.setSuspend(t, s, false)
	h.reply(t, h.publisher.messages()[0], protocol.StatusSucceeded, &fakeAcknowledger{}, 1)
	h.reconcile(t, keyOf(s))
	g.Expect(h.get(t, keyOf(s)).Status.Phase).To(Equal(ordersv1alpha1.PhaseCompensating))
	g.Expect(sentKeys(h.publisher.messages())).To(Equal([]string{"inventory.ReserveInventory", "inventory.ReleaseInventory"}))
}

func TestASuspendedSagaThatSentNothingIsCancelledAtOnce(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-suspend-pending", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Suspend = true })
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	g.Expect(h.get(t, keyOf(s)).Status.Phase).To(Equal(ordersv1alpha1.PhasePending))
	g.Expect(h.publisher.messages()).To(BeEmpty())

	got := h.get(t, keyOf(s))
	got.Spec.Cancel = true
	g.Expect(h.api.Update(context.Background(), got)).To(Succeed())
	h.reconcile(t, keyOf(s))

	g.Expect(h.get(t, keyOf(s)).Status.Phase).To(Equal(ordersv1alpha1.PhaseCompensated))
	g.Expect(h.publisher.messages()).To(BeEmpty())
}
