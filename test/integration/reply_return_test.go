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
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/simparticipant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// freezeLabel marks a saga whose status the test's admission policy refuses
// to change.
const freezeLabel = "test.ordersaga.io/freeze"

var _ = Describe("A reply whose saga cannot be written", func() {
	It("goes back to the broker after the settle timeout, is delivered again, and is applied once the saga can be written", func() {
		ns := newNamespace()
		freezeStatusWrites(ns)
		release := make(chan struct{})
		script.set(ns, "payment", func(cmd protocol.Command) *protocol.Reply {
			<-release
			return simparticipant.Succeed(cmd)
		})
		released := false
		DeferCleanup(func() {
			if !released {
				close(release)
			}
		})
		s := createSaga(ns, "order-frozen", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Timeout = "1m" })
		Eventually(func() int { return len(received("payment", s.UID)) }).Should(Equal(1))

		By("freezing the saga's status, then letting the participant reply")
		Expect(k8sClient.Patch(ctx, s, client.RawPatch(types.MergePatchType,
			fmt.Appendf(nil, `{"metadata":{"labels":{%q:"true"}}}`, freezeLabel)))).To(Succeed())
		Eventually(func() error {
			// A dry run changes nothing; it fails once the policy applies.
			return k8sClient.Status().Patch(ctx, s, client.RawPatch(types.MergePatchType,
				[]byte(`{"status":{"observedGeneration":1000}}`)), client.DryRunAll)
		}).Should(MatchError(ContainSubstring("frozen by the test")))
		before := scrapeNow()
		close(release)
		released = true

		By("returning the reply to the broker again and again while the status cannot be written")
		Eventually(func(g Gomega) {
			g.Expect(value(scrape(g), "ordersaga_replies_returned_total", nil) -
				value(before, "ordersaga_replies_returned_total", nil)).To(BeNumerically(">=", 2))
		}).Should(Succeed())
		Expect(readyz()).To(Equal(http.StatusOK), "the apiserver answers: replies are returned, not stuck")
		frozen := &ordersv1alpha1.OrderSaga{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), frozen)).To(Succeed())
		Expect(stepState(frozen, "charge-payment").State).To(Equal(ordersv1alpha1.StepRunning))

		By("applying it once the saga can be written again")
		Expect(k8sClient.Patch(ctx, frozen, client.RawPatch(types.MergePatchType,
			fmt.Appendf(nil, `{"metadata":{"labels":{%q:null}}}`, freezeLabel)))).To(Succeed())
		done := waitForPhase(s, ordersv1alpha1.PhaseCompleted)
		Expect(stepState(done, "charge-payment").Attempts).To(BeEquivalentTo(1), "the same reply, delivered again, not a new attempt")
		Expect(received("payment", s.UID)).To(HaveLen(1))
		Expect(deadLetters.has(received("payment", s.UID)[0].Delivery.MessageId + "-reply")).To(BeFalse())
	})
})

// freezeStatusWrites installs, for the namespace ns, an admission policy
// that refuses status writes of sagas labelled freezeLabel: the operator's
// passes over such a saga fail, with an error that is neither a conflict nor
// "not found", for as long as the label stays.
func freezeStatusWrites(ns string) {
	name := "freeze-saga-status-" + ns
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: new(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
						Rule: admissionregistrationv1.Rule{APIGroups: []string{ordersv1alpha1.GroupVersion.Group},
							APIVersions: []string{ordersv1alpha1.GroupVersion.Version}, Resources: []string{"ordersagas/status"}},
					},
				}},
			},
			Validations: []admissionregistrationv1.Validation{{
				Expression: fmt.Sprintf("!has(object.metadata.labels) || !(%q in object.metadata.labels)", freezeLabel),
				Message:    "status frozen by the test",
			}},
		},
	}
	Expect(k8sClient.Create(ctx, policy)).To(Succeed())
	DeferCleanup(func() { Expect(k8sClient.Delete(ctx, policy)).To(Succeed()) })
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns},
			}},
		},
	}
	Expect(k8sClient.Create(ctx, binding)).To(Succeed())
	DeferCleanup(func() { Expect(k8sClient.Delete(ctx, binding)).To(Succeed()) })
}
