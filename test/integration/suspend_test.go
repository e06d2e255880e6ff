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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

var _ = Describe("A suspended saga", func() {
	It("sends nothing while held, and finishes once resumed", func() {
		ns := newNamespace()
		s := createSaga(ns, "order-held", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Suspend = true })

		Eventually(func(g Gomega) {
			got := &ordersv1alpha1.OrderSaga{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), got)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, ordersv1alpha1.ConditionSuspended)).To(BeTrue())
			g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhasePending))
		}).Should(Succeed())
		Consistently(func() int { return len(received("inventory", s.UID)) }).WithTimeout(time.Second).Should(BeZero())

		got := &ordersv1alpha1.OrderSaga{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), got)).To(Succeed())
		patch := client.MergeFrom(got.DeepCopy())
		got.Spec.Suspend = false
		Expect(k8sClient.Patch(ctx, got, patch)).To(Succeed())

		done := waitForPhase(s, ordersv1alpha1.PhaseCompleted)
		reasons := make([]ordersv1alpha1.TransitionReason, 0, len(done.Status.History))
		for _, e := range done.Status.History {
			reasons = append(reasons, e.Reason)
		}
		Expect(reasons[:3]).To(Equal([]ordersv1alpha1.TransitionReason{
			ordersv1alpha1.TransitionSuspended, ordersv1alpha1.TransitionResumed, ordersv1alpha1.TransitionStarted}))
		Expect(meta.FindStatusCondition(done.Status.Conditions, ordersv1alpha1.ConditionSuspended)).To(BeNil())
	})
})
