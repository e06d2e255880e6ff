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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// A template's steps get the same admission validation as a saga's inline
// steps: they are the same type, with the same list rules.
var _ = Describe("SagaTemplate admission", func() {
	newTemplate := func() *ordersv1alpha1.SagaTemplate {
		return &ordersv1alpha1.SagaTemplate{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "tpl-" + rand.String(6)},
			Spec:       ordersv1alpha1.SagaTemplateSpec{Steps: newSaga().Spec.Steps, Deadline: "10m"},
		}
	}

	It("accepts the sample saga's steps", func() {
		Expect(k8sClient.Create(ctx, newTemplate())).To(Succeed())
	})

	DescribeTable("rejects invalid templates with the rule's message",
		func(mutate func(*ordersv1alpha1.SagaTemplate), message string) {
			tpl := newTemplate()
			mutate(tpl)
			err := k8sClient.Create(ctx, tpl)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "expected Invalid, got %v", err)
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("no steps", func(t *ordersv1alpha1.SagaTemplate) { t.Spec.Steps = nil }, "spec.steps: Required value"),
		Entry("a name with a dot, which would break event routing keys", func(t *ordersv1alpha1.SagaTemplate) { t.Name = "check.out" },
			"a SagaTemplate's name must be a DNS label"),
		Entry("more than twenty steps", func(t *ordersv1alpha1.SagaTemplate) { t.Spec.Steps = manySteps(21) },
			"spec.steps: Too many: 21: must have at most 20 items"),
		Entry("two steps of one name", func(t *ordersv1alpha1.SagaTemplate) { t.Spec.Steps[1].Name = t.Spec.Steps[0].Name },
			"step names must be unique"),
		Entry("runAfter naming a later step", func(t *ordersv1alpha1.SagaTemplate) { t.Spec.Steps[0].RunAfter = []string{t.Spec.Steps[1].Name} },
			"every runAfter name must be the name of an earlier step"),
		Entry("a step service that is not a DNS label", func(t *ordersv1alpha1.SagaTemplate) { t.Spec.Steps[0].Service = "Pay.Ment" },
			"spec.steps[0].service in body should match"),
		Entry("a timeout too short", func(t *ordersv1alpha1.SagaTemplate) { t.Spec.Steps[0].Timeout = "100ms" },
			"timeout must be between 1s and 24h"),
		Entry("a deadline too long", func(t *ordersv1alpha1.SagaTemplate) { t.Spec.Deadline = "1000h" },
			"deadline must be between 1s and 720h"),
		Entry("a negative retention", func(t *ordersv1alpha1.SagaTemplate) { t.Spec.TTLSecondsAfterFinished = new(int32(-1)) },
			"spec.ttlSecondsAfterFinished in body should be greater than or equal to 0"),
	)
})
