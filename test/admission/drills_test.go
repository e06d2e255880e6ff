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
	"io"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
)

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}

// drillsNamespace creates a namespace labelled for drills.
func drillsNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "admission-drills-",
		Labels: map[string]string{ordersv1alpha1.DrillsLabel: ordersv1alpha1.DrillsEnabled}}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// drilledSaga is the sample saga drilling its payment step.
func drilledSaga(ns, name string) *ordersv1alpha1.OrderSaga {
	s := fixtures.NewSaga(ns, name)
	s.Spec.Steps[1].Drill = ordersv1alpha1.DrillFail
	return s
}

// template is a SagaTemplate with the sample saga's steps.
func template(ns, name string) *ordersv1alpha1.SagaTemplate {
	return &ordersv1alpha1.SagaTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: ordersv1alpha1.SagaTemplateSpec{Steps: fixtures.NewSaga(ns, name).Spec.Steps}}
}

// drillRefusal is how the policy refuses a drill of the payment step in ns.
func drillRefusal(ns string) string {
	return "step charge-payment asks for a compensation drill (spec.steps[].drill), which is allowed only in namespaces " +
		"labelled orders.ordersaga.io/drills=enabled; namespace " + ns + " is not"
}

var _ = Describe("Compensation drills", func() {
	It("are refused in a namespace not labelled for drills, to sagas and templates, and the refusal says why", func() {
		ns := newNamespace()
		editorClient := editor(ns)

		err := editorClient.Create(ctx, drilledSaga(ns, "order-1"))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		Expect(err).To(MatchError(ContainSubstring(drillRefusal(ns))))

		tpl := template(ns, "checkout")
		tpl.Spec.Steps[1].Drill = ordersv1alpha1.DrillFail
		Expect(editorClient.Create(ctx, tpl)).To(MatchError(ContainSubstring(drillRefusal(ns))))

		By("refusing them to a cluster administrator too")
		Expect(k8sClient.Create(ctx, drilledSaga(ns, "order-2"))).To(MatchError(ContainSubstring(drillRefusal(ns))))

		By("refusing a drill added to a template afterwards")
		plain := template(ns, "plain")
		Expect(editorClient.Create(ctx, plain)).To(Succeed())
		plain.Spec.Steps[1].Drill = ordersv1alpha1.DrillFail
		Expect(editorClient.Update(ctx, plain)).To(MatchError(ContainSubstring(drillRefusal(ns))))

		By("letting everything without a drill through")
		create(editorClient, fixtures.NewSaga(ns, "order-3"))
	})

	It("are accepted in a namespace labelled for drills", func() {
		ns := drillsNamespace()
		editorClient := editor(ns)

		s := drilledSaga(ns, "order-1")
		create(editorClient, s)
		Expect(s.Spec.Steps[1].Drill).To(Equal(ordersv1alpha1.DrillFail))

		tpl := template(ns, "checkout")
		tpl.Spec.Steps[0].Drill = ordersv1alpha1.DrillFail
		Expect(editorClient.Create(ctx, tpl)).To(Succeed())

		By("moving a template's drill to another step")
		tpl.Spec.Steps[0].Drill, tpl.Spec.Steps[2].Drill = "", ordersv1alpha1.DrillFail
		Expect(editorClient.Update(ctx, tpl)).To(Succeed())

		By("refusing two drilled steps, whatever the namespace: the schema allows one")
		two := drilledSaga(ns, "order-2")
		two.Spec.Steps[0].Drill = ordersv1alpha1.DrillFail
		err := editorClient.Create(ctx, two)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err).To(MatchError(ContainSubstring("at most one step may be drilled")))
	})

	It("are admitted as the sample shows: its namespace labelled, with kubectl apply", func() {
		admin, err := env.AddUser(envtest.User{Name: "drill-admin", Groups: []string{"system:masters"}}, nil)
		Expect(err).NotTo(HaveOccurred())
		kubectl, err := admin.Kubectl()
		Expect(err).NotTo(HaveOccurred())
		sample := filepath.Join(controlplane.RepoRoot(), "config", "samples", "ordersaga_drill.yaml")
		_, stderr, err := kubectl.Run("apply", "-f", sample)
		Expect(err).NotTo(HaveOccurred(), readAll(stderr))

		s := &ordersv1alpha1.OrderSaga{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "ordersaga-drills", Name: "order-drill-1"}, s)).To(Succeed())
		Expect(ordersv1alpha1.IsDrill(s.Spec.Steps)).To(BeTrue())
		DeferCleanup(func() {
			base := s.DeepCopy()
			s.Finalizers = nil
			Expect(k8sClient.Patch(ctx, s, client.MergeFrom(base))).To(Succeed())
			Expect(k8sClient.Delete(ctx, s)).To(Succeed())
		})
	})

	It("admitted once, do not hold up a saga or template whose namespace lost the label", func() {
		ns := drillsNamespace()
		editorClient := editor(ns)
		s := drilledSaga(ns, "order-1")
		create(editorClient, s)
		setPhase(s, ordersv1alpha1.PhaseRunning)
		tpl := template(ns, "checkout")
		tpl.Spec.Steps[1].Drill = ordersv1alpha1.DrillFail
		Expect(editorClient.Create(ctx, tpl)).To(Succeed())

		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		delete(namespace.Labels, ordersv1alpha1.DrillsLabel)
		Expect(k8sClient.Update(ctx, namespace)).To(Succeed())
		// The apiserver matches bindings against its namespace informer:
		// wait until it sees the label gone.
		Eventually(func() error {
			return editorClient.Create(ctx, drilledSaga(ns, "order-2"), client.DryRunAll)
		}).Should(MatchError(ContainSubstring(drillRefusal(ns))))

		By("letting the operator retire the saga, and an editor tidy its labels")
		Expect(removeFinalizer(operatorClient(), s)).To(Succeed())
		Expect(editorClient.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
		s.Labels = map[string]string{"team": "checkout"}
		Expect(editorClient.Update(ctx, s)).To(Succeed())

		By("letting an editor take the drill out of the template, but not put it back")
		Expect(editorClient.Get(ctx, client.ObjectKeyFromObject(tpl), tpl)).To(Succeed())
		tpl.Spec.Steps[1].Drill = ""
		Expect(editorClient.Update(ctx, tpl)).To(Succeed())
		tpl.Spec.Steps[1].Drill = ordersv1alpha1.DrillFail
		Expect(editorClient.Update(ctx, tpl)).To(MatchError(ContainSubstring(drillRefusal(ns))))
	})
})
