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

package integration_test

import (
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// oncall returns a client of user, bound in namespace to the saga
// requester role only, as on-call people are.
func oncall(namespace, user string) client.Client {
	GinkgoHelper()
	userCfg, err := controlplane.Requester(ctx, cfg, namespace, user, "oncall")
	Expect(err).NotTo(HaveOccurred())
	c, err := client.New(userCfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// askFor has c create a SagaRequest for the saga, once admission stamps
// requesters (a new control plane may still be loading the policies), and
// waits until it is handled.
func askFor(c client.Client, s *ordersv1alpha1.OrderSaga, name string, verb ordersv1alpha1.SagaVerb, step string) *ordersv1alpha1.SagaRequest {
	GinkgoHelper()
	sr := &ordersv1alpha1.SagaRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: name},
		Spec: ordersv1alpha1.SagaRequestSpec{Saga: s.Name, Verb: verb, Step: step, Reason: "ticket OPS-" + name,
			// Forged: admission stamps the real requester over it.
			Requester: &ordersv1alpha1.Requester{Username: "the-boss"}},
	}
	Eventually(func(g Gomega) {
		probe := sr.DeepCopy()
		g.Expect(c.Create(ctx, probe, client.DryRunAll)).To(Succeed())
		g.Expect(probe.Spec.Requester.Username).NotTo(Equal("the-boss"), "the requester policies are not in force yet")
	}).Should(Succeed())
	Expect(c.Create(ctx, sr.DeepCopy())).To(Succeed())
	out := &ordersv1alpha1.SagaRequest{}
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sr), out)).To(Succeed())
		g.Expect(out.Status.Phase).To(BeElementOf(ordersv1alpha1.RequestDone, ordersv1alpha1.RequestRefused))
	}).Should(Succeed())
	return out
}

// historyOf renders the saga's history as "Reason: message".
func historyOf(s *ordersv1alpha1.OrderSaga) []string {
	out := make([]string, len(s.Status.History))
	for i, e := range s.Status.History {
		out[i] = string(e.Reason) + ": " + e.Message
	}
	return out
}

var _ = Describe("Manual verbs (SagaRequests)", func() {
	It("skip a step whose participant never answers, by an on-call person who cannot edit the saga", func() {
		ns := newNamespace()
		script.set(ns, "payment", func(protocol.Command) *protocol.Reply { return nil }) // stuck
		s := createSaga(ns, "order-stuck", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Timeout = "1h" })
		Eventually(func() int { return len(received("payment", s.UID)) }).Should(Equal(1))
		alice := oncall(ns, "alice")

		By("the on-call person may not patch the saga")
		live := &ordersv1alpha1.OrderSaga{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), live)).To(Succeed())
		patch := client.MergeFrom(live.DeepCopy())
		live.Spec.Cancel = true
		Expect(apierrors.IsForbidden(alice.Patch(ctx, live, patch))).To(BeTrue())

		By("but may ask for the step to be skipped")
		sr := askFor(alice, s, "skip-charge", ordersv1alpha1.VerbSkip, "charge-payment")
		Expect(sr.Spec.Requester.Username).To(Equal("alice"), "stamped by admission, not what the request said")
		Expect(sr.Status.Phase).To(Equal(ordersv1alpha1.RequestDone))
		Expect(sr.Status.SagaUID).To(Equal(string(s.UID)))

		done := waitForPhase(s, ordersv1alpha1.PhaseCompleted)
		Expect(stepState(done, "charge-payment").State).To(Equal(ordersv1alpha1.StepSkipped))
		Expect(sequence(s.UID)).To(Equal([]string{"ReserveInventory#1", "ChargePayment#1", "ScheduleShipment#1"}))
		Expect(historyOf(done)).To(ContainElement(
			"SkipRequested: Skip requested by alice (SagaRequest skip-charge): ticket OPS-skip-charge"))
		Eventually(func(g Gomega) []string { return eventReasons(g, s) }).Should(ContainElement("SkipRequested"))
	})

	It("compensate a completed saga that had already retired, and bring it back until it is compensated", func() {
		ns := newNamespace()
		s := createSaga(ns, "order-returned")
		waitForPhase(s, ordersv1alpha1.PhaseCompleted)
		Eventually(func(g Gomega) {
			got := &ordersv1alpha1.OrderSaga{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), got)).To(Succeed())
			g.Expect(got.Labels).To(HaveKeyWithValue(ordersv1alpha1.FinishedLabel, "true"))
		}).Should(Succeed())

		sr := askFor(oncall(ns, "bob"), s, "return", ordersv1alpha1.VerbCompensate, "")
		Expect(sr.Status.Phase).To(Equal(ordersv1alpha1.RequestDone), sr.Status.Message)

		done := waitForPhase(s, ordersv1alpha1.PhaseCompensated)
		Expect(sequence(s.UID)).To(Equal([]string{"ReserveInventory#1", "ChargePayment#1", "ScheduleShipment#1",
			"RefundPayment#1", "ReleaseInventory#1"}))
		Expect(historyOf(done)).To(ContainElement(HavePrefix("CompensateRequested: Compensate requested by bob")))
		Eventually(func(g Gomega) {
			got := &ordersv1alpha1.OrderSaga{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), got)).To(Succeed())
			g.Expect(got.Labels).To(HaveKeyWithValue(ordersv1alpha1.FinishedLabel, "true"), "retired again once compensated")
		}).Should(Succeed())
	})

	It("retry a compensation that failed for good", func() {
		ns := newNamespace()
		var refunds atomic.Int32
		script.set(ns, "shipping", func(protocol.Command) *protocol.Reply {
			return &protocol.Reply{Status: protocol.StatusFailed, Reason: "NoCarrier"}
		})
		script.set(ns, "payment", func(cmd protocol.Command) *protocol.Reply {
			if cmd.Kind == protocol.KindCompensation && refunds.Add(1) == 1 {
				return &protocol.Reply{Status: protocol.StatusFailed, Reason: "BankDown"}
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		s := createSaga(ns, "order-refund-retried")
		waitForPhase(s, ordersv1alpha1.PhaseFailed)

		sr := askFor(oncall(ns, "carol"), s, "retry", ordersv1alpha1.VerbRetry, "")
		Expect(sr.Status.Phase).To(Equal(ordersv1alpha1.RequestDone), sr.Status.Message)
		done := waitForPhase(s, ordersv1alpha1.PhaseCompensated)
		Expect(done.Status.RetryRound).To(BeEquivalentTo(1))
		Expect(historyOf(done)).To(ContainElement(HavePrefix("RetryRequested: Retry requested by carol")))
	})

	It("resume forward a saga whose first step failed, once the participant is fixed, after it had retired", func() {
		ns := newNamespace()
		var fixed atomic.Bool
		script.set(ns, "inventory", func(cmd protocol.Command) *protocol.Reply {
			if cmd.Kind == protocol.KindCommand && !fixed.Load() {
				return &protocol.Reply{Status: protocol.StatusFailed, Reason: "WarehouseOffline"}
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		s := createSaga(ns, "order-resumed")
		waitForPhase(s, ordersv1alpha1.PhaseCompensated) // nothing to undo
		Eventually(func(g Gomega) {
			got := &ordersv1alpha1.OrderSaga{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), got)).To(Succeed())
			g.Expect(got.Labels).To(HaveKeyWithValue(ordersv1alpha1.FinishedLabel, "true"))
		}).Should(Succeed())

		fixed.Store(true)
		erin := oncall(ns, "erin")
		sr := askFor(erin, s, "forward", ordersv1alpha1.VerbResumeForward, "")
		Expect(sr.Status.Phase).To(Equal(ordersv1alpha1.RequestDone), sr.Status.Message)
		done := waitForPhase(s, ordersv1alpha1.PhaseCompleted)
		Expect(done.Status.RetryRound).To(BeEquivalentTo(1))
		Expect(sequence(s.UID)).To(Equal([]string{"ReserveInventory#1", "ReserveInventory#1", "ChargePayment#1", "ScheduleShipment#1"}))
		Expect(historyOf(done)).To(ContainElement(HavePrefix("ResumeForwardRequested: ResumeForward requested by erin")))

		By("a second request is refused: the saga completed")
		again := askFor(erin, s, "forward-again", ordersv1alpha1.VerbResumeForward, "")
		Expect(again.Status.Phase).To(Equal(ordersv1alpha1.RequestRefused))
		Expect(again.Status.Message).To(ContainSubstring("the saga is Completed"))
	})

	It("cancel a running saga, after a verb that does not apply is refused with the reason", func() {
		ns := newNamespace()
		script.set(ns, "payment", func(cmd protocol.Command) *protocol.Reply {
			if cmd.Kind == protocol.KindCommand {
				return nil // no answer: the charge may have happened
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		s := createSaga(ns, "order-cancelled", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Timeout = "1h" })
		Eventually(func() int { return len(received("payment", s.UID)) }).Should(Equal(1))
		dave := oncall(ns, "dave")

		refused := askFor(dave, s, "too-early", ordersv1alpha1.VerbCompensate, "")
		Expect(refused.Status.Phase).To(Equal(ordersv1alpha1.RequestRefused))
		Expect(refused.Status.Message).To(ContainSubstring("Compensate applies only to a Completed saga; the saga is Running"))
		Expect(waitForPhase(s, ordersv1alpha1.PhaseRunning).Status.History).To(ContainElement(
			HaveField("Reason", ordersv1alpha1.TransitionRequestRefused)))

		sr := askFor(dave, s, "cancel", ordersv1alpha1.VerbCancel, "")
		Expect(sr.Status.Phase).To(Equal(ordersv1alpha1.RequestDone), sr.Status.Message)
		done := waitForPhase(s, ordersv1alpha1.PhaseCompensated)
		Expect(stepState(done, "charge-payment").State).To(Equal(ordersv1alpha1.StepCompensated), "interrupted, then refunded")
		Expect(done.Spec.Cancel).To(BeFalse(), "a request does not edit the saga")
		Expect(strings.Join(historyOf(done), "\n")).To(ContainSubstring("CancelRequested: Cancel requested by dave (SagaRequest cancel)"))
	})
})
