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

package v1alpha1_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

var _ = Describe("SagaRequest admission", func() {
	newRequest := func() *ordersv1alpha1.SagaRequest {
		return &ordersv1alpha1.SagaRequest{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "req-" + rand.String(6)},
			Spec: ordersv1alpha1.SagaRequestSpec{Saga: "order-1", Verb: ordersv1alpha1.VerbSkip, Step: "charge-payment",
				Reason: "the gateway lost the charge; refunded by hand (OPS-3)"},
		}
	}

	It("accepts a request, and keeps its spec as it was created", func() {
		sr := newRequest()
		// The requester policies of config/admission may still be loading:
		// wait until a creation gets its requester stamped.
		Eventually(func(g Gomega) {
			probe := sr.DeepCopy()
			g.Expect(k8sClient.Create(ctx, probe, client.DryRunAll)).To(Succeed())
			g.Expect(probe.Spec.Requester).NotTo(BeNil())
		}).Should(Succeed())
		Expect(k8sClient.Create(ctx, sr.DeepCopy())).To(Succeed())
		got := &ordersv1alpha1.SagaRequest{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sr), got)).To(Succeed())
		got.Spec.Reason = "changed my mind"
		err := k8sClient.Update(ctx, got)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "expected Invalid, got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec of a SagaRequest is immutable: create a new request"))

		By("listing Saga, Verb, Requester, Phase and Age")
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sr), got)).To(Succeed())
		got.Status.Phase = ordersv1alpha1.RequestDone
		Expect(k8sClient.Status().Update(ctx, got)).To(Succeed())
		table := getTable("sagarequests", sr.Namespace, sr.Name)
		columns := make([]string, 0, len(table.ColumnDefinitions))
		for _, c := range table.ColumnDefinitions {
			columns = append(columns, c.Name)
		}
		Expect(columns).To(Equal([]string{"Name", "Saga", "Verb", "Requester", "Phase", "Age"}))
		Expect(table.Rows[0].Cells[:5]).To(Equal([]any{sr.Name, "order-1", "Skip", got.Spec.Requester.Username, "Done"}))
	})

	DescribeTable("rejects invalid requests with the rule's message",
		func(mutate func(*ordersv1alpha1.SagaRequest), message string) {
			sr := newRequest()
			mutate(sr)
			err := k8sClient.Create(ctx, sr)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "expected Invalid, got %v", err)
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("no saga", func(r *ordersv1alpha1.SagaRequest) { r.Spec.Saga = "" }, "spec.saga"),
		Entry("an unknown verb", func(r *ordersv1alpha1.SagaRequest) { r.Spec.Verb = "Delete" }, "spec.verb: Unsupported value"),
		Entry("a skip without its step", func(r *ordersv1alpha1.SagaRequest) { r.Spec.Step = "" },
			"a Skip request names the step to skip in spec.step"),
		Entry("no reason", func(r *ordersv1alpha1.SagaRequest) { r.Spec.Reason = "" }, "spec.reason"),
		Entry("a reason longer than 1024 bytes", func(r *ordersv1alpha1.SagaRequest) { r.Spec.Reason = strings.Repeat("x", 1025) },
			"spec.reason: Too long"),
	)
})
