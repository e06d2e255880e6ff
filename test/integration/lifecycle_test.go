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
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
)

var _ = Describe("A new OrderSaga", func() {
	It("gets a status with a record per step, retires once finished, and is deleted at once", func() {
		s := createSaga(newNamespace(), "order-1")
		done := waitForPhase(s, ordersv1alpha1.PhaseCompleted)

		Expect(done.Status.ObservedGeneration).To(Equal(done.Generation))
		Expect(done.Status.StartTime).NotTo(BeNil())
		Expect(done.Status.CompletionTime).NotTo(BeNil())
		Expect(done.Status.Steps).To(HaveLen(3))
		for i, step := range done.Status.Steps {
			Expect(step.Name).To(Equal(done.Spec.Steps[i].Name))
			Expect(step.State).To(Equal(ordersv1alpha1.StepSucceeded))
			Expect(step.Attempts).To(BeEquivalentTo(1))
			Expect(step.MessageID).NotTo(BeEmpty())
			Expect(step.StartedAt).NotTo(BeNil())
			Expect(step.CompletedAt).NotTo(BeNil())
		}
		Expect(done.Status.Conditions).To(ContainElement(And(
			HaveField("Type", ordersv1alpha1.ConditionReady), HaveField("Status", metav1.ConditionTrue),
			HaveField("Reason", ordersv1alpha1.ReasonCompleted), HaveField("ObservedGeneration", done.Generation))))
		Expect(done.Status.Conditions).NotTo(ContainElement(HaveField("Type", ordersv1alpha1.ConditionReconciling)))

		By("keeping its history in its status, and no Event: under the default --events=warnings a saga that went well costs none")
		history := make([]ordersv1alpha1.TransitionReason, 0, len(done.Status.History))
		for _, e := range done.Status.History {
			history = append(history, e.Reason)
		}
		Expect(history).To(ContainElements(ordersv1alpha1.TransitionStarted, ordersv1alpha1.TransitionStepSucceeded,
			ordersv1alpha1.TransitionCompleted))
		// The first transitions were recorded (or not) passes before the
		// saga completed: an Event of theirs would be listed by now.
		Expect(eventReasons(Default, done)).To(BeEmpty())

		By("retiring it: labelled finished, with nothing left for the finalizer to hold")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(done), done)).To(Succeed())
			g.Expect(done.Labels).To(HaveKeyWithValue(ordersv1alpha1.FinishedLabel, "true"))
			g.Expect(done.Annotations).To(HaveKey(ordersv1alpha1.ExpiresAnnotation))
			g.Expect(done.Finalizers).To(BeEmpty())
		}).Should(Succeed())

		By("deleting it")
		Expect(k8sClient.Delete(ctx, done)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(done), done))
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
		samples := filepath.Join(controlplane.RepoRoot(), "config", "samples")
		_, stderr, err := kubectl.Run("apply", "-n", ns, "-k", samples)
		Expect(err).NotTo(HaveOccurred(), readAll(stderr))

		Eventually(func(g Gomega) {
			stdout, stderr, err := kubectl.Run("get", "osaga", "-n", ns)
			g.Expect(err).NotTo(HaveOccurred(), readAll(stderr))
			lines := strings.Split(strings.TrimSpace(readAll(stdout)), "\n")
			g.Expect(lines).To(HaveLen(3))
			g.Expect(strings.Fields(lines[0])).To(Equal([]string{"NAME", "ORDER", "PHASE", "STEP", "SUSPENDED", "READY", "AGE"}))
			// The suite's participants accept every command: both complete
			// (no step and no spec.suspend: those columns are empty).
			g.Expect(strings.Fields(lines[1])[:4]).To(Equal([]string{"order-1001", "ORD-1001", "Completed", "True"}))
			g.Expect(strings.Fields(lines[2])[:4]).To(Equal([]string{"order-1002", "ORD-1002", "Completed", "True"}))
		}).Should(Succeed())
	})
})
