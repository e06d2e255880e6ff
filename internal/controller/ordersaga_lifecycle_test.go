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

package controller_test

import (
	"io"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv"
)

func eventsFor(g Gomega, saga *ordersv1alpha1.OrderSaga) []eventsv1.Event {
	list := &eventsv1.EventList{}
	g.Expect(k8sClient.List(ctx, list, client.InNamespace(saga.Namespace))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.UID == saga.UID {
			out = append(out, e)
		}
	}
	return out
}

var _ = Describe("A new OrderSaga", func() {
	It("gets the finalizer, an initial status and an Accepted Event, and is released on deletion", func() {
		saga := testenv.NewSaga(newNamespace(), "order-1")
		Expect(k8sClient.Create(ctx, saga)).To(Succeed())

		By("initialising the status")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(saga), saga)).To(Succeed())
			g.Expect(saga.Finalizers).To(ContainElement(ordersv1alpha1.Finalizer))
			g.Expect(saga.Status.Phase).To(Equal(ordersv1alpha1.PhasePending))
		}).Should(Succeed())
		Expect(saga.Status.ObservedGeneration).To(Equal(saga.Generation))
		Expect(saga.Status.Steps).To(HaveLen(3))
		for i, step := range saga.Status.Steps {
			Expect(step.Name).To(Equal(saga.Spec.Steps[i].Name))
			Expect(step.State).To(Equal(ordersv1alpha1.StepPending))
		}
		Expect(saga.Status.Conditions).To(ContainElements(
			And(HaveField("Type", ordersv1alpha1.ConditionReady), HaveField("Status", metav1.ConditionFalse),
				HaveField("Reason", ordersv1alpha1.ReasonPending)),
			And(HaveField("Type", ordersv1alpha1.ConditionReconciling), HaveField("Status", metav1.ConditionTrue)),
		))

		By("recording an Event")
		Eventually(func(g Gomega) {
			g.Expect(eventsFor(g, saga)).To(ContainElement(And(
				HaveField("Reason", "Accepted"), HaveField("Type", "Normal"),
				HaveField("Note", ContainSubstring(saga.Spec.Order.ID)))))
		}).Should(Succeed())

		By("removing the finalizer on deletion")
		Expect(k8sClient.Delete(ctx, saga)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(saga), saga))
		}).Should(BeTrue())
	})
})

var _ = Describe("The samples", func() {
	It("apply with kubectl and list with their columns", func() {
		ns := newNamespace()
		admin, err := env.AddUser(envtest.User{Name: "sample-admin", Groups: []string{"system:masters"}}, nil)
		Expect(err).NotTo(HaveOccurred())
		kubectl, err := admin.Kubectl()
		Expect(err).NotTo(HaveOccurred())
		samples := filepath.Join(testenv.RepoRoot(), "config", "samples")
		_, stderr, err := kubectl.Run("apply", "-n", ns, "-k", samples)
		Expect(err).NotTo(HaveOccurred(), readAll(stderr))

		Eventually(func(g Gomega) {
			stdout, stderr, err := kubectl.Run("get", "osaga", "-n", ns)
			g.Expect(err).NotTo(HaveOccurred(), readAll(stderr))
			lines := strings.Split(strings.TrimSpace(readAll(stdout)), "\n")
			g.Expect(lines).To(HaveLen(3))
			g.Expect(strings.Fields(lines[0])).To(Equal([]string{"NAME", "ORDER", "PHASE", "STEP", "READY", "AGE"}))
			g.Expect(strings.Fields(lines[1])[:4]).To(Equal([]string{"order-1001", "ORD-1001", "Pending", "False"}))
			g.Expect(strings.Fields(lines[2])[:4]).To(Equal([]string{"order-1002", "ORD-1002", "Pending", "False"}))
		}).Should(Succeed())
	})
})

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}
