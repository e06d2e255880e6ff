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
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
)

// newDrillsNamespace creates a namespace of its own labelled for drills.
func newDrillsNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "saga-drill-",
		Labels: map[string]string{ordersv1alpha1.DrillsLabel: ordersv1alpha1.DrillsEnabled}}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// drillSample reads the OrderSaga of config/samples/ordersaga_drill.yaml.
func drillSample() *ordersv1alpha1.OrderSaga {
	f, err := os.Open(filepath.Join(controlplane.RepoRoot(), "config", "samples", "ordersaga_drill.yaml"))
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = f.Close() }()
	dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		s := &ordersv1alpha1.OrderSaga{}
		Expect(dec.Decode(s)).To(Succeed(), "the sample has an OrderSaga")
		if s.Kind == "OrderSaga" {
			return s
		}
	}
}

var _ = Describe("A compensation drill", func() {
	It("fails its drilled step without sending it, and compensates the steps before it for real", func() {
		ns := newDrillsNamespace()
		s := drillSample()
		s.Namespace = ns
		var before map[string]*dto.MetricFamily
		Eventually(func(g Gomega) { before = scrape(g) }).Should(Succeed())
		Expect(k8sClient.Create(ctx, s)).To(Succeed())

		done := waitForPhase(s, ordersv1alpha1.PhaseCompensated)
		Expect(done.Status.Drill).To(BeTrue())
		drilled := stepState(done, "charge-payment")
		Expect(drilled.State).To(Equal(ordersv1alpha1.StepFailed))
		Expect(drilled.Reason).To(Equal(ordersv1alpha1.StepReasonDrill))
		Expect(drilled.Message).To(HavePrefix("Step charge-payment failed on purpose (drill)"))
		Expect(stepState(done, "reserve-inventory").State).To(Equal(ordersv1alpha1.StepCompensated))
		Expect(stepState(done, "schedule-shipment").State).To(Equal(ordersv1alpha1.StepSkipped))

		Expect(sequence(s.UID)).To(Equal([]string{"ReserveInventory#1", "ReleaseInventory#1"}),
			"the participant gets the compensation, never the drilled command")
		Expect(received("payment", s.UID)).To(BeEmpty())

		history := make([]ordersv1alpha1.TransitionReason, 0, len(done.Status.History))
		for _, e := range done.Status.History {
			history = append(history, e.Reason)
		}
		Expect(history).To(ContainElement(ordersv1alpha1.TransitionStepDrilled))
		Eventually(func(g Gomega) {
			g.Expect(eventReasons(g, s)).To(ContainElements(string(ordersv1alpha1.TransitionStepDrilled), "Compensated"))
		}).Should(Succeed())

		By("counting its compensation under drill=\"true\"")
		Eventually(func(g Gomega) {
			after := scrape(g)
			for _, event := range []string{"started", "completed"} {
				labels := map[string]string{"event": event, "drill": "true"}
				g.Expect(value(after, "ordersaga_compensations_total", labels)-
					value(before, "ordersaga_compensations_total", labels)).To(BeNumerically(">=", 1), event)
			}
			labels := map[string]string{"outcome": "Compensated", "drill": "true"}
			g.Expect(value(after, "ordersaga_saga_duration_seconds", labels) -
				value(before, "ordersaga_saga_duration_seconds", labels)).To(BeNumerically(">=", 1))
		}).Should(Succeed())
	})

	It("of a template's first step compensates with nothing to undo, and nothing is sent", func() {
		ns := newDrillsNamespace()
		steps := fixtures.NewSaga(ns, "x").Spec.Steps
		steps[0].Drill = ordersv1alpha1.DrillFail
		Expect(k8sClient.Create(ctx, &ordersv1alpha1.SagaTemplate{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-drill"},
			Spec:       ordersv1alpha1.SagaTemplateSpec{Steps: steps},
		})).To(Succeed())
		s := fixtures.NewSaga(ns, "order-drill-template")
		s.Spec.Steps = nil
		s.Spec.TemplateRef = &ordersv1alpha1.TemplateReference{Name: "checkout-drill"}
		Expect(k8sClient.Create(ctx, s)).To(Succeed())

		done := waitForPhase(s, ordersv1alpha1.PhaseCompensated)
		Expect(done.Status.Drill).To(BeTrue())
		states := make([]ordersv1alpha1.StepState, 0, len(done.Status.Steps))
		for _, rec := range done.Status.Steps {
			states = append(states, rec.State)
		}
		Expect(states).To(Equal([]ordersv1alpha1.StepState{ordersv1alpha1.StepFailed, ordersv1alpha1.StepSkipped, ordersv1alpha1.StepSkipped}))
		Consistently(func() []string { return sequence(s.UID) }).WithTimeout(500 * time.Millisecond).Should(BeEmpty())
	})

	It("is refused in a namespace not labelled for drills", func() {
		ns := newNamespace()
		s := drillSample()
		s.Namespace = ns
		err := k8sClient.Create(ctx, s)
		Expect(err).To(MatchError(ContainSubstring("allowed only in namespaces labelled orders.ordersaga.io/drills=enabled")))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), &ordersv1alpha1.OrderSaga{}))).To(BeTrue())
	})
})
