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
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/simparticipant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

var _ = Describe("A SagaTemplate", func() {
	It("is pinned by the sagas that run it: editing it changes only the sagas that start afterwards", func() {
		ns := newNamespace()
		// The payment service holds every charge until the template is
		// edited, so that the 20 sagas are running when it is.
		release := make(chan struct{})
		released := false
		DeferCleanup(func() {
			if !released {
				close(release)
			}
		})
		script.set(ns, "payment", func(cmd protocol.Command) *protocol.Reply {
			<-release
			return simparticipant.Succeed(cmd)
		})
		steps := fixtures.NewSaga(ns, "x").Spec.Steps
		for i := range steps {
			steps[i].Timeout = "30s"
		}
		tpl := &ordersv1alpha1.SagaTemplate{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout"},
			Spec:       ordersv1alpha1.SagaTemplateSpec{Steps: steps},
		}
		Expect(k8sClient.Create(ctx, tpl)).To(Succeed())

		fromTemplate := func(name string) *ordersv1alpha1.OrderSaga {
			s := fixtures.NewSaga(ns, name)
			s.Spec.Steps = nil
			s.Spec.TemplateRef = &ordersv1alpha1.TemplateReference{Name: "checkout"}
			Expect(k8sClient.Create(ctx, s)).To(Succeed())
			return s
		}
		running := make([]*ordersv1alpha1.OrderSaga, 20)
		for i := range running {
			running[i] = fromTemplate(fmt.Sprintf("order-%02d", i))
		}
		for _, s := range running {
			Eventually(func(g Gomega) {
				got := &ordersv1alpha1.OrderSaga{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), got)).To(Succeed())
				g.Expect(got.Status.Template).NotTo(BeNil())
				g.Expect(got.Status.Template.Generation).To(Equal(int64(1)))
				g.Expect(stepState(got, "charge-payment").State).To(Equal(ordersv1alpha1.StepRunning))
			}).Should(Succeed())
		}

		By("editing the template: the shipment goes")
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(tpl), tpl)).To(Succeed())
		tpl.Spec.Steps = tpl.Spec.Steps[:2]
		Expect(k8sClient.Update(ctx, tpl)).To(Succeed())
		close(release)
		released = true

		for _, s := range running {
			done := waitForPhase(s, ordersv1alpha1.PhaseCompleted)
			Expect(sequence(done.UID)).To(Equal([]string{"ReserveInventory#1", "ChargePayment#1", "ScheduleShipment#1"}),
				"saga %s runs the steps it started with", s.Name)
		}
		later := waitForPhase(fromTemplate("order-later"), ordersv1alpha1.PhaseCompleted)
		Expect(later.Status.Template.Generation).To(Equal(int64(2)))
		Expect(sequence(later.UID)).To(Equal([]string{"ReserveInventory#1", "ChargePayment#1"}), "a new saga runs the new version")
	})
})
