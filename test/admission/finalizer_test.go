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

package admission_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
)

// No operator runs in these specs: what they show is the apiserver's doing.
var _ = Describe("The compensate finalizer", func() {
	It("is on a saga from its creation, added by admission", func() {
		ns := newNamespace()
		editorClient := editor(ns)

		s := fixtures.NewSaga(ns, "plain")
		create(editorClient, s)
		Expect(s.Finalizers).To(Equal([]string{ordersv1alpha1.Finalizer}), "the creation's response already has it")

		By("keeping the finalizers a saga is created with")
		other := fixtures.NewSaga(ns, "other-finalizer")
		other.Finalizers = []string{"example.com/audit"}
		create(editorClient, other)
		Expect(other.Finalizers).To(Equal([]string{"example.com/audit", ordersv1alpha1.Finalizer}))

		By("adding it only once")
		already := fixtures.NewSaga(ns, "already")
		controllerutil.AddFinalizer(already, ordersv1alpha1.Finalizer)
		create(editorClient, already)
		Expect(already.Finalizers).To(Equal([]string{ordersv1alpha1.Finalizer}))
	})

	DescribeTable("cannot be removed by an editor while the saga has not finished, and the refusal says why",
		func(phase ordersv1alpha1.SagaPhase) {
			ns := newNamespace()
			editorClient := editor(ns)
			s := fixtures.NewSaga(ns, "order-1")
			create(editorClient, s)
			if phase != "" {
				setPhase(s, phase)
			}

			err := removeFinalizer(editorClient, s)
			Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
			Expect(err).To(MatchError(ContainSubstring(refusal)))

			By("nor by a full update")
			Expect(editorClient.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
			s.Finalizers = nil
			Expect(editorClient.Update(ctx, s)).To(MatchError(ContainSubstring(refusal)))
			Expect(finalizers(s)).To(ContainElement(ordersv1alpha1.Finalizer))
		},
		Entry("not started yet", ordersv1alpha1.SagaPhase("")),
		Entry("pending", ordersv1alpha1.PhasePending),
		Entry("running", ordersv1alpha1.PhaseRunning),
		Entry("compensating", ordersv1alpha1.PhaseCompensating),
	)

	It("cannot be skipped by an editor who deletes a running saga", func() {
		ns := newNamespace()
		editorClient := editor(ns)
		s := fixtures.NewSaga(ns, "order-1")
		create(editorClient, s)
		setPhase(s, ordersv1alpha1.PhaseRunning)

		By("removing the finalizer, then deleting: the removal is refused, the deletion waits")
		Expect(removeFinalizer(editorClient, s)).To(MatchError(ContainSubstring(refusal)))
		Expect(editorClient.Delete(ctx, s)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
		Expect(s.DeletionTimestamp).NotTo(BeNil())

		By("removing it from the saga being deleted: refused too")
		setPhase(s, ordersv1alpha1.PhaseCompensating)
		Expect(removeFinalizer(editorClient, s)).To(MatchError(ContainSubstring(refusal)))
		Expect(finalizers(s)).To(ContainElement(ordersv1alpha1.Finalizer))
	})

	It("can be removed by the operator's service account while the saga runs", func() {
		ns := newNamespace()
		s := fixtures.NewSaga(ns, "order-1")
		create(editor(ns), s)
		setPhase(s, ordersv1alpha1.PhaseRunning)

		Expect(removeFinalizer(operatorClient(), s)).To(Succeed())
		Expect(finalizers(s)).To(BeEmpty())
	})

	DescribeTable("can be removed by anyone once the saga has finished",
		func(phase ordersv1alpha1.SagaPhase) {
			ns := newNamespace()
			editorClient := editor(ns)
			s := fixtures.NewSaga(ns, "order-1")
			create(editorClient, s)
			setPhase(s, phase)

			Expect(removeFinalizer(editorClient, s)).To(Succeed())
			Expect(finalizers(s)).To(BeEmpty())
		},
		Entry("completed", ordersv1alpha1.PhaseCompleted),
		Entry("compensated", ordersv1alpha1.PhaseCompensated),
		Entry("failed", ordersv1alpha1.PhaseFailed),
	)

	It("leaves an editor every other change to a running saga", func() {
		ns := newNamespace()
		editorClient := editor(ns)
		s := fixtures.NewSaga(ns, "order-1")
		s.Finalizers = []string{"example.com/audit"}
		create(editorClient, s)
		setPhase(s, ordersv1alpha1.PhaseRunning)

		Expect(editorClient.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
		base := s.DeepCopy()
		s.Labels = map[string]string{"team": "checkout"}
		controllerutil.RemoveFinalizer(s, "example.com/audit")
		Expect(editorClient.Patch(ctx, s, client.MergeFrom(base))).To(Succeed())
		Expect(finalizers(s)).To(Equal([]string{ordersv1alpha1.Finalizer}))
	})
})
