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
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
)

func duration(s string) ordersv1alpha1.Duration { return ordersv1alpha1.Duration(s) }

func newSaga() *ordersv1alpha1.OrderSaga {
	return fixtures.NewSaga(namespace, "saga-"+rand.String(6))
}

func manySteps(n int) []ordersv1alpha1.SagaStep {
	steps := make([]ordersv1alpha1.SagaStep, n)
	for i := range steps {
		steps[i] = ordersv1alpha1.SagaStep{
			Name:    fmt.Sprintf("step-%d", i),
			Service: "svc",
			Command: ordersv1alpha1.Command{Name: "Do"},
		}
	}
	return steps
}

func manyItems(n int) []ordersv1alpha1.LineItem {
	items := make([]ordersv1alpha1.LineItem, n)
	for i := range items {
		items[i] = ordersv1alpha1.LineItem{SKU: fmt.Sprintf("SKU-%d", i), Quantity: 1, UnitPrice: "1.00"}
	}
	return items
}

func params(n int) map[string]ordersv1alpha1.ParameterValue {
	m := map[string]ordersv1alpha1.ParameterValue{}
	for i := range n {
		m[fmt.Sprintf("p%d", i)] = "v"
	}
	return m
}

var _ = Describe("OrderSaga admission", func() {
	DescribeTable("accepts valid manifests",
		func(mutate func(*ordersv1alpha1.OrderSaga)) {
			saga := newSaga()
			mutate(saga)
			Expect(k8sClient.Create(ctx, saga)).To(Succeed())
		},
		Entry("the three-step sample", func(*ordersv1alpha1.OrderSaga) {}),
		Entry("a single step", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps = manySteps(1) }),
		Entry("twenty steps", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps = manySteps(20) }),
		Entry("a hundred line items", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Items = manyItems(100) }),
		Entry("bounds of timeout and retry", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps[0].Timeout = duration("1s")
			s.Spec.Steps[1].Timeout = duration("24h")
			s.Spec.Steps[0].Retry = ordersv1alpha1.RetryPolicy{MaxAttempts: 20, Factor: 10,
				InitialDelay: duration("100ms"), MaxDelay: duration("24h")}
			s.Spec.Steps[1].Retry = ordersv1alpha1.RetryPolicy{MaxAttempts: 1, Factor: 1,
				InitialDelay: duration("1h"), MaxDelay: duration("1h")}
		}),
		Entry("a deadline", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Deadline = duration("720h") }),
		Entry("sixteen parameters", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[2].Command.Parameters = params(16) }),
		Entry("a zero amount and four decimals", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Order.Total.Amount = "0"
			s.Spec.Order.Items[0].UnitPrice = "0.0001"
		}),
		Entry("cancel requested at creation", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Cancel = true }),
		Entry("parallel steps: two after the first, the last after both", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps = manySteps(4)
			s.Spec.Steps[2].RunAfter = []string{"step-0"}
			s.Spec.Steps[3].RunAfter = []string{"step-1", "step-2"}
		}),
		Entry("a step that runs at the start (runAfter: [])", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps[1].RunAfter = []string{}
		}),
		Entry("twenty steps, the last after all the others", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps = manySteps(20)
			for i := range 19 {
				s.Spec.Steps[19].RunAfter = append(s.Spec.Steps[19].RunAfter, s.Spec.Steps[i].Name)
			}
		}),
	)

	DescribeTable("rejects invalid manifests with the rule's message",
		func(mutate func(*ordersv1alpha1.OrderSaga), message string) {
			saga := newSaga()
			mutate(saga)
			err := k8sClient.Create(ctx, saga)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "expected Invalid, got %v", err)
			Expect(err.Error()).To(ContainSubstring(message))
		},
		// Steps.
		Entry("no steps and no template", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps = nil },
			"a saga names its steps or a template, exactly one of spec.steps and spec.templateRef"),
		Entry("steps and a template", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.TemplateRef = &ordersv1alpha1.TemplateReference{Name: "checkout"}
		}, "a saga names its steps or a template, exactly one of spec.steps and spec.templateRef"),
		Entry("a template name that is not a DNS label", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps = nil
			s.Spec.TemplateRef = &ordersv1alpha1.TemplateReference{Name: "Check_Out"}
		}, "spec.templateRef.name in body should match"),
		Entry("more than twenty steps", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps = manySteps(21) },
			"spec.steps: Too many: 21: must have at most 20 items"),
		Entry("duplicate step names", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[2].Name = s.Spec.Steps[0].Name },
			"step names must be unique"),
		Entry("runAfter naming an unknown step", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].RunAfter = []string{"nope"} },
			"every runAfter name must be the name of an earlier step"),
		Entry("runAfter naming a later step (a cycle could be written)", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps[1].RunAfter = []string{s.Spec.Steps[2].Name}
		}, "every runAfter name must be the name of an earlier step"),
		Entry("runAfter naming the step itself", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].RunAfter = []string{s.Spec.Steps[1].Name} },
			"every runAfter name must be the name of an earlier step"),
		Entry("runAfter naming a step twice", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps[2].RunAfter = []string{s.Spec.Steps[0].Name, s.Spec.Steps[0].Name}
		}, "Duplicate value"),
		Entry("two drilled steps", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps[0].Drill, s.Spec.Steps[2].Drill = ordersv1alpha1.DrillFail, ordersv1alpha1.DrillFail
		}, "at most one step may be drilled"),
		Entry("a drill that is not Fail", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Drill = "Timeout" },
			`spec.steps[1].drill: Unsupported value: "Timeout"`),
		Entry("a step name with upper case", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Name = "Reserve" },
			"spec.steps[0].name in body should match"),
		Entry("a step name longer than 63", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Name = strings.Repeat("a", 64) },
			"spec.steps[0].name: Too long"),
		Entry("a service with a dot", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Service = "payment.eu" },
			"spec.steps[1].service in body should match"),
		Entry("a service with a wildcard", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Service = "pay*" },
			"spec.steps[1].service in body should match"),
		Entry("a command name with a dot", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Command.Name = "Reserve.All" },
			"spec.steps[0].command.name in body should match"),
		Entry("a command name with a wildcard", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Command.Name = "#" },
			"spec.steps[0].command.name in body should match"),
		Entry("a compensation name with a space", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps[0].Compensation.Name = "Release All"
		}, "spec.steps[0].compensation.name in body should match"),
		Entry("more than sixteen parameters", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Command.Parameters = params(17) },
			"spec.steps[0].command.parameters: Too many: 17: must have at most 16 items"),
		Entry("a parameter name with a space", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps[0].Command.Parameters = map[string]ordersv1alpha1.ParameterValue{"bad key": "v"}
		}, "parameter names must start with a letter"),
		Entry("a parameter value longer than 256", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps[0].Command.Parameters = map[string]ordersv1alpha1.ParameterValue{"k": ordersv1alpha1.ParameterValue(strings.Repeat("v", 257))}
		}, "spec.steps[0].command.parameters.k: Too long"),
		// Durations and retry bounds.
		Entry("a timeout under 1s", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Timeout = duration("500ms") },
			"timeout must be between 1s and 24h"),
		Entry("a timeout over 24h", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Timeout = duration("25h") },
			"timeout must be between 1s and 24h"),
		Entry("zero attempts", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Retry.MaxAttempts = -1 },
			"spec.steps[0].retry.maxAttempts in body should be greater than or equal to 1"),
		Entry("more than twenty attempts", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Retry.MaxAttempts = 21 },
			"spec.steps[0].retry.maxAttempts in body should be less than or equal to 20"),
		Entry("a backoff factor over 10", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Retry.Factor = 11 },
			"spec.steps[0].retry.factor in body should be less than or equal to 10"),
		Entry("a negative backoff factor", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Retry.Factor = -2 },
			"spec.steps[0].retry.factor in body should be greater than or equal to 1"),
		Entry("an initial delay under 100ms", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Retry.InitialDelay = duration("10ms") },
			"retry.initialDelay must be between 100ms and 1h"),
		Entry("a max delay over 24h", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Retry.MaxDelay = duration("25h") },
			"retry.maxDelay must be between 100ms and 24h"),
		Entry("a max delay below the initial delay", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps[0].Retry.InitialDelay = duration("10s")
			s.Spec.Steps[0].Retry.MaxDelay = duration("5s")
		}, "retry.maxDelay must not be less than retry.initialDelay"),
		Entry("a deadline under 1s", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Deadline = duration("900ms") },
			"deadline must be between 1s and 720h"),
		Entry("a deadline over 720h", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Deadline = duration("721h") },
			"deadline must be between 1s and 720h"),
		// The order.
		Entry("an empty order id", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.ID = "" },
			"spec.order.id in body should be at least 1 chars long"),
		Entry("an order id with a slash", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.ID = "ORD/1" },
			"spec.order.id in body should match"),
		Entry("an order id longer than 64", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.ID = strings.Repeat("9", 65) },
			"spec.order.id: Too long"),
		Entry("a customer id with a space", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Customer.ID = "C 42" },
			"spec.order.customer.id in body should match"),
		Entry("no line items", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Items = []ordersv1alpha1.LineItem{} },
			"spec.order.items in body should have at least 1 items"),
		Entry("more than a hundred line items", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Items = manyItems(101) },
			"spec.order.items: Too many: 101: must have at most 100 items"),
		Entry("a SKU with a space", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Items[0].SKU = "RED MUG" },
			"spec.order.items[0].sku in body should match"),
		Entry("a zero quantity", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Items[0].Quantity = 0 },
			"spec.order.items[0].quantity in body should be greater than or equal to 1"),
		Entry("a quantity over 100000", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Items[0].Quantity = 100001 },
			"spec.order.items[0].quantity in body should be less than or equal to 100000"),
		Entry("a negative unit price", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Items[0].UnitPrice = "-1.00" },
			"spec.order.items[0].unitPrice in body should match"),
		Entry("a unit price in exponent form", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Items[0].UnitPrice = "1e3" },
			"spec.order.items[0].unitPrice in body should match"),
		Entry("an amount with five decimals", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Total.Amount = "1.00001" },
			"spec.order.total.amount in body should match"),
		Entry("an amount with a leading zero", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Total.Amount = "065.00" },
			"spec.order.total.amount in body should match"),
		Entry("an amount with a comma", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Total.Amount = "65,00" },
			"spec.order.total.amount in body should match"),
		Entry("a lower-case currency", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Total.Currency = "eur" },
			"spec.order.total.currency in body should match"),
		Entry("a currency symbol", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Total.Currency = "€" },
			"spec.order.total.currency in body should match"),
		// Unicode where routing keys, ids and labels need ASCII.
		Entry("a step name with an accent", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Name = "réserver" },
			"spec.steps[0].name in body should match"),
		Entry("a service in Cyrillic", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Service = "склад" },
			"spec.steps[0].service in body should match"),
		Entry("a command name with an emoji", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Command.Name = "Reserve📦" },
			"spec.steps[0].command.name in body should match"),
		Entry("an order id with a full-width digit", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.ID = "ORD-１" },
			"spec.order.id in body should match"),
		Entry("an amount with Arabic-Indic digits", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Total.Amount = "٤٢" },
			"spec.order.total.amount in body should match"),
		// Oversized and pathological input.
		Entry("a SKU of 10000 characters", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Items[0].SKU = strings.Repeat("A", 10000) },
			"spec.order.items[0].sku: Too long"),
		Entry("a hundred items with one invalid", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Order.Items = manyItems(100)
			s.Spec.Order.Items[99].Quantity = 0
		}, "spec.order.items[99].quantity in body should be greater than or equal to 1"),
		Entry("twenty steps all named alike", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps = manySteps(20)
			for i := range s.Spec.Steps {
				s.Spec.Steps[i].Name = "same"
			}
		}, "step names must be unique"),
		Entry("a duration of a thousand digits", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps[0].Timeout = ordersv1alpha1.Duration(strings.Repeat("9", 1000) + "s")
		}, "spec.steps[0].timeout: Too long"),
	)

	It("rejects a malformed duration", func() {
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(newSaga())
		Expect(err).NotTo(HaveOccurred())
		u := &unstructured.Unstructured{Object: obj}
		u.SetAPIVersion(ordersv1alpha1.GroupVersion.String())
		u.SetKind("OrderSaga")
		steps, _, _ := unstructured.NestedSlice(u.Object, "spec", "steps")
		steps[0].(map[string]any)["timeout"] = "soon"
		steps[1].(map[string]any)["timeout"] = "1d"
		Expect(unstructured.SetNestedSlice(u.Object, steps, "spec", "steps")).To(Succeed())

		err = k8sClient.Create(ctx, u)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "expected Invalid, got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.steps[0].timeout in body should match"))
		Expect(err.Error()).To(ContainSubstring("spec.steps[1].timeout in body should match"))
	})

	It("leaves timeout and retry unset, for the Participant's defaults, and fills in a retry policy that is set", func() {
		saga := newSaga()
		saga.Spec.Steps[1].Retry = ordersv1alpha1.RetryPolicy{MaxAttempts: 5}
		Expect(k8sClient.Create(ctx, saga)).To(Succeed())
		unset := saga.Spec.Steps[0]
		Expect(unset.Timeout).To(BeEmpty(), "resolved when sent: the step's, its Participant's, or 30s")
		Expect(unset.Retry).To(BeZero(), "resolved when an attempt fails: the step's, its Participant's, or the defaults")
		set := saga.Spec.Steps[1].Retry
		Expect(set.MaxAttempts).To(BeEquivalentTo(5))
		Expect(set.Factor).To(BeEquivalentTo(2))
		Expect(set.InitialDelay.Get()).To(Equal(time.Second))
		Expect(set.MaxDelay.Get()).To(Equal(time.Minute))
	})

	Describe("updates", func() {
		var saga *ordersv1alpha1.OrderSaga
		BeforeEach(func() {
			saga = newSaga()
			Expect(k8sClient.Create(ctx, saga)).To(Succeed())
		})

		DescribeTable("reject changes to the order and the steps",
			func(mutate func(*ordersv1alpha1.OrderSaga), message string) {
				mutate(saga)
				err := k8sClient.Update(ctx, saga)
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "expected Invalid, got %v", err)
				Expect(err.Error()).To(ContainSubstring(message))
			},
			Entry("the total", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Total.Amount = "1.00" }, "spec.order is immutable"),
			Entry("a line item", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Items[0].Quantity = 5 }, "spec.order is immutable"),
			Entry("a step's service", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Service = "stock" }, "spec.steps is immutable"),
			Entry("a step's timeout", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Timeout = duration("1m") }, "spec.steps is immutable"),
			Entry("an added step", func(s *ordersv1alpha1.OrderSaga) {
				s.Spec.Steps = append(s.Spec.Steps, manySteps(1)...)
			}, "spec.steps is immutable"),
			Entry("the order of steps", func(s *ordersv1alpha1.OrderSaga) {
				s.Spec.Steps[0], s.Spec.Steps[1] = s.Spec.Steps[1], s.Spec.Steps[0]
			}, "spec.steps is immutable"),
		)

		It("refuses changes to the steps by server-side apply from another field manager", func() {
			// applyConfig is the saga's spec as an apply configuration, changed by mutate.
			applyConfig := func(mutate func(*ordersv1alpha1.OrderSaga)) runtime.ApplyConfiguration {
				applied := &ordersv1alpha1.OrderSaga{
					TypeMeta:   metav1.TypeMeta{APIVersion: ordersv1alpha1.GroupVersion.String(), Kind: "OrderSaga"},
					ObjectMeta: metav1.ObjectMeta{Namespace: saga.Namespace, Name: saga.Name},
					Spec:       *saga.Spec.DeepCopy(),
				}
				mutate(applied)
				obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(applied)
				Expect(err).NotTo(HaveOccurred())
				unstructured.RemoveNestedField(obj, "status")
				return client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: obj})
			}
			err := k8sClient.Apply(ctx, applyConfig(func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Service = "rogue-payments" }),
				client.FieldOwner("intruder"), client.ForceOwnership)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "expected Invalid, got %v", err)
			Expect(err.Error()).To(ContainSubstring("spec.steps is immutable"))

			By("and a change to a field another manager owns conflicts unless forced")
			lowered := applyConfig(func(s *ordersv1alpha1.OrderSaga) { s.Spec.Order.Total.Amount = "0.01" })
			err = k8sClient.Apply(ctx, lowered, client.FieldOwner("intruder"))
			Expect(apierrors.IsConflict(err)).To(BeTrue(), "expected a field ownership conflict, got %v", err)
			err = k8sClient.Apply(ctx, lowered, client.FieldOwner("intruder"), client.ForceOwnership)
			Expect(err).To(MatchError(ContainSubstring("spec.order is immutable")))
		})

		type (
			results = map[string]ordersv1alpha1.ResultValue
			types   = map[string]ordersv1alpha1.ResultType
		)
		DescribeTable("check the types of a step's result values",
			func(result results, resultTypes types, message string) {
				saga.Status.Steps = []ordersv1alpha1.StepStatus{{Name: "reserve-inventory", State: ordersv1alpha1.StepSucceeded,
					Result: result, ResultTypes: resultTypes}}
				err := k8sClient.Status().Update(ctx, saga)
				if message == "" {
					Expect(err).NotTo(HaveOccurred())
					got := &ordersv1alpha1.OrderSaga{}
					Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(saga), got)).To(Succeed())
					Expect(got.Status.Steps[0].Result).To(Equal(result))
					Expect(got.Status.Steps[0].ResultTypes).To(Equal(resultTypes))
					return
				}
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "expected Invalid, got %v", err)
				Expect(err.Error()).To(ContainSubstring(message))
			},
			Entry("strings, numbers and a boolean", results{"id": "r-1", "count": "3", "price": "-2.50e3", "ok": "true"},
				types{"count": ordersv1alpha1.ResultNumber, "price": ordersv1alpha1.ResultNumber, "ok": ordersv1alpha1.ResultBoolean}, ""),
			Entry("a type without its value", results{"id": "r-1"}, types{"count": ordersv1alpha1.ResultNumber},
				"every key of resultTypes must be a key of result"),
			Entry("a number that is not JSON", results{"count": "3,5"}, types{"count": ordersv1alpha1.ResultNumber},
				"every key of resultTypes must be a key of result"),
			Entry("a boolean that is not", results{"ok": "yes"}, types{"ok": ordersv1alpha1.ResultBoolean},
				"every key of resultTypes must be a key of result"),
			Entry("an unknown type", results{"x": "{}"}, types{"x": "object"}, "Unsupported value"),
		)

		It("accepts a new deadline and a cancel request, which cannot be withdrawn", func() {
			saga.Spec.Deadline = duration("1h")
			Expect(k8sClient.Update(ctx, saga)).To(Succeed())
			saga.Spec.Cancel = true
			Expect(k8sClient.Update(ctx, saga)).To(Succeed())

			saga.Spec.Cancel = false // omitted from the request, as omitempty drops it
			err := k8sClient.Update(ctx, saga)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "expected Invalid, got %v", err)
			Expect(err.Error()).To(ContainSubstring("spec.cancel cannot be withdrawn once set to true"))
		})
	})
})
