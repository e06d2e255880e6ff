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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
)

var _ = Describe("The operator's cache", func() {
	It("holds the sagas not finished, without managedFields, and lets a saga go once it is labelled finished", func() {
		ns := newNamespace()
		finished := fixtures.NewSaga(ns, "finished")
		finished.Labels = map[string]string{ordersv1alpha1.FinishedLabel: "true"}
		Expect(k8sClient.Create(ctx, finished)).To(Succeed())
		live := createSaga(ns, "live")

		By("caching the saga not finished, stripped of its managedFields")
		cached := &ordersv1alpha1.OrderSaga{}
		Eventually(func() error { return running.cached.Get(ctx, client.ObjectKeyFromObject(live), cached) }).Should(Succeed())
		Expect(cached.ManagedFields).To(BeEmpty())

		By("never caching the saga created finished")
		// One watch delivers both sagas' events in order: with the later
		// one cached, the earlier one would be too, had it been sent.
		err := running.cached.Get(ctx, client.ObjectKeyFromObject(finished), &ordersv1alpha1.OrderSaga{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "got %v", err)

		By("dropping the saga from the cache once it is labelled finished")
		done := waitForPhase(live, ordersv1alpha1.PhaseCompleted)
		patch := client.MergeFrom(done.DeepCopy())
		done.Labels = map[string]string{ordersv1alpha1.FinishedLabel: "true"}
		// The operator may have labelled (or, past its TTL, deleted) it first.
		Expect(client.IgnoreNotFound(k8sClient.Patch(ctx, done, patch))).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(running.cached.Get(ctx, client.ObjectKeyFromObject(live), &ordersv1alpha1.OrderSaga{}))
		}).Should(BeTrue())
	})
})
