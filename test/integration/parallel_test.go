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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// shipAfterReserve runs schedule-shipment after reserve-inventory only, so
// at the same time as charge-payment.
func shipAfterReserve(s *ordersv1alpha1.OrderSaga) {
	s.Spec.Steps[2].RunAfter = []string{"reserve-inventory"}
}

var _ = Describe("An OrderSaga with parallel steps", func() {
	It("sends the steps that do not depend on each other together", func() {
		ns := newNamespace()
		script.set(ns, "payment", paymentWithID)
		done := waitForPhase(createSaga(ns, "order-parallel", shipAfterReserve), ordersv1alpha1.PhaseCompleted)

		charge, ship := stepState(done, "charge-payment"), stepState(done, "schedule-shipment")
		Expect(charge.StartedAt).NotTo(BeNil())
		Expect(ship.StartedAt).To(Equal(charge.StartedAt), "both sent in the same pass")
		Expect(sequence(done.UID)).To(HaveLen(3))
		Expect(sequence(done.UID)[0]).To(Equal("ReserveInventory#1"))
	})

	It("compensates, after a parallel step fails, the steps that completed in reverse order", func() {
		ns := newNamespace()
		script.set(ns, "payment", paymentWithID)
		script.set(ns, "shipping", fail("NoCarrier"))
		done := waitForPhase(createSaga(ns, "order-parallel-fail", shipAfterReserve), ordersv1alpha1.PhaseCompensated)

		Expect(stepState(done, "schedule-shipment").State).To(Equal(ordersv1alpha1.StepFailed))
		Expect(stepState(done, "charge-payment").State).To(Equal(ordersv1alpha1.StepCompensated),
			"the payment in flight when shipping failed is waited for, then refunded")
		Expect(stepState(done, "reserve-inventory").State).To(Equal(ordersv1alpha1.StepCompensated))
		seq := sequence(done.UID)
		Expect(seq[len(seq)-2:]).To(Equal([]string{"RefundPayment#1", "ReleaseInventory#1"}))
	})
})
