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
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
)

// forgeryRefusal is the validating policy's message, as people see it.
const forgeryRefusal = "spec.requester must be the user who creates the request, as the apiserver authenticated them"

// requester returns a client of user, in group oncall, bound in namespace
// to the saga requester role only.
func requester(namespace, user string) client.Client {
	GinkgoHelper()
	c, err := controlplane.Requester(ctx, cfg, namespace, user, "oncall")
	Expect(err).NotTo(HaveOccurred())
	out, err := client.New(c, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return out
}

func sagaRequest(namespace, name string, forged *ordersv1alpha1.Requester) *ordersv1alpha1.SagaRequest {
	return &ordersv1alpha1.SagaRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: ordersv1alpha1.SagaRequestSpec{Saga: "order-1", Verb: ordersv1alpha1.VerbCancel,
			Reason: "fraud case FR-12", Requester: forged},
	}
}

// requesterPolicy returns the mutating policy of config/admission that
// stamps the requester, and its binding.
func requesterPolicy() []*unstructured.Unstructured {
	GinkgoHelper()
	objs, err := controlplane.AdmissionPolicies()
	Expect(err).NotTo(HaveOccurred())
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetName() == "saga-request-requester" && slices.Contains(
			[]string{"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"}, o.GetKind()) {
			out = append(out, o)
		}
	}
	Expect(out).To(HaveLen(2))
	return out
}

// waitForRequesterPolicies waits until a request c creates in namespace
// gets its requester stamped: the apiserver loads new policies through
// informers, and this suite may start with the requester's.
func waitForRequesterPolicies(c client.Client, namespace string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		probe := sagaRequest(namespace, "", nil)
		probe.GenerateName = "probe-"
		g.Expect(c.Create(ctx, probe, client.DryRunAll)).To(Succeed())
		g.Expect(probe.Spec.Requester).NotTo(BeNil())
	}).Should(Succeed())
}

// No operator runs in these specs: what they show is the apiserver's doing.
var _ = Describe("A SagaRequest's requester", func() {
	It("is stamped from the user who creates it, whatever the request says", func() {
		ns := newNamespace()
		oncall := requester(ns, "carol")

		sr := sagaRequest(ns, "cancel-1", &ordersv1alpha1.Requester{Username: "the-boss", Groups: []string{"system:masters"}})
		waitForRequesterPolicies(oncall, ns)
		Expect(oncall.Create(ctx, sr.DeepCopy())).To(Succeed())
		stored := &ordersv1alpha1.SagaRequest{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sr), stored)).To(Succeed())
		Expect(stored.Spec.Requester).To(Equal(&ordersv1alpha1.Requester{
			Username: "carol", Groups: []string{"oncall", "system:authenticated"}}))

		By("and cannot be changed afterwards, not even by an administrator")
		stored.Spec.Requester.Username = "the-boss"
		err := k8sClient.Update(ctx, stored)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err).To(MatchError(ContainSubstring("spec of a SagaRequest is immutable")))
	})

	It("cannot be forged where the mutating policy is not installed", func() {
		ns := newNamespace()
		oncall := requester(ns, "dave")
		policy := requesterPolicy()
		for _, o := range policy {
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, o.DeepCopy()))).To(Succeed())
		}
		DeferCleanup(func() {
			for _, o := range policy {
				Expect(k8sClient.Create(ctx, o.DeepCopy())).To(Succeed())
			}
			By("waiting until the mutating policy stamps requesters again")
			waitForRequesterPolicies(oncall, ns)
		})

		By("refusing a request that names someone else")
		Eventually(func() error {
			return oncall.Create(ctx, sagaRequest(ns, "forged", &ordersv1alpha1.Requester{Username: "the-boss"}))
		}).Should(MatchError(ContainSubstring(forgeryRefusal)))
		By("refusing a request that names no one")
		err := oncall.Create(ctx, sagaRequest(ns, "anonymous", nil))
		Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err).To(MatchError(ContainSubstring(forgeryRefusal)))
		By("taking one that names its creator exactly")
		Expect(oncall.Create(ctx, sagaRequest(ns, "honest", &ordersv1alpha1.Requester{
			Username: "dave", Groups: []string{"oncall", "system:authenticated"}}))).To(Succeed())
	})

	It("is all the requester role may write: it reads sagas but cannot change them", func() {
		ns := newNamespace()
		oncall := requester(ns, "erin")
		s := fixtures.NewSaga(ns, "order-1")
		create(k8sClient, s)

		Expect(oncall.Get(ctx, client.ObjectKeyFromObject(s), &ordersv1alpha1.OrderSaga{})).To(Succeed())
		live := s.DeepCopy()
		base := live.DeepCopy()
		live.Spec.Cancel = true
		Expect(apierrors.IsForbidden(oncall.Patch(ctx, live, client.MergeFrom(base)))).To(BeTrue())
		live = s.DeepCopy()
		live.Annotations = map[string]string{ordersv1alpha1.RetryAnnotation: "now"}
		Expect(apierrors.IsForbidden(oncall.Patch(ctx, live, client.MergeFrom(base)))).To(BeTrue())
		Expect(apierrors.IsForbidden(oncall.Status().Patch(ctx, live, client.MergeFrom(base)))).To(BeTrue())
		Expect(apierrors.IsForbidden(oncall.Delete(ctx, s.DeepCopy()))).To(BeTrue())

		waitForRequesterPolicies(oncall, ns)
		Expect(oncall.Create(ctx, sagaRequest(ns, "cancel-1", nil))).To(Succeed())
		sr := &ordersv1alpha1.SagaRequest{}
		Expect(oncall.Get(ctx, client.ObjectKey{Namespace: ns, Name: "cancel-1"}, sr)).To(Succeed())
		base2 := sr.DeepCopy()
		sr.Status.Phase = ordersv1alpha1.RequestDone
		Expect(apierrors.IsForbidden(oncall.Status().Patch(ctx, sr, client.MergeFrom(base2)))).To(BeTrue(),
			"a requester cannot write the outcome of its own request")
	})
})
