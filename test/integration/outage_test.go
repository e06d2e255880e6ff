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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/simparticipant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

var _ = Describe("A broker outage", func() {
	It("fails no step when RabbitMQ is stopped for longer than the step's timeout", func() {
		ns := newNamespace()
		// The payment service takes the command and holds it through the
		// outage; once released it succeeds.
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
		s := createSaga(ns, "order-outage", func(s *ordersv1alpha1.OrderSaga) {
			for i := range s.Spec.Steps {
				// Long enough that stopping RabbitMQ (seconds on a loaded
				// machine) ends before the step would time out.
				s.Spec.Steps[i].Timeout = "15s"
				s.Spec.Steps[i].Retry.MaxAttempts = 1 // one timeout would fail the step
			}
		})
		Eventually(func(g Gomega) {
			got := &ordersv1alpha1.OrderSaga{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), got)).To(Succeed())
			g.Expect(stepState(got, "charge-payment").State).To(Equal(ordersv1alpha1.StepRunning))
		}).Should(Succeed())

		By("stopping RabbitMQ")
		_, err := rabbitmq.Ctl("stop_app")
		Expect(err).NotTo(HaveOccurred())
		started := false
		DeferCleanup(func() {
			if !started {
				_ = rabbitmq.StartApp()
			}
			// The next test starts with the operator connected again.
			Eventually(running.Broker.Connected).WithTimeout(time.Minute).Should(BeTrue())
		})
		// RabbitMQ takes a moment to close its connections: the operator has
		// lost it once it is not connected any more.
		Eventually(running.Broker.Connected).WithTimeout(time.Minute).Should(BeFalse())
		got := &ordersv1alpha1.OrderSaga{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), got)).To(Succeed())
			g.Expect(got.Status.TimersPausedAt).NotTo(BeNil())
			g.Expect(stepState(got, "charge-payment").State).To(Equal(ordersv1alpha1.StepRunning))
		}).Should(Succeed(), "the step's timer is paused")
		By("keeping it stopped for longer than the step's timeout")
		Consistently(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), got)).To(Succeed())
			g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhaseRunning))
			g.Expect(stepState(got, "charge-payment").State).To(Equal(ordersv1alpha1.StepRunning))
		}).WithTimeout(16 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())

		By("starting RabbitMQ again")
		Expect(rabbitmq.StartApp()).To(Succeed())
		started = true
		close(release)
		released = true

		done := waitForPhase(s, ordersv1alpha1.PhaseCompleted)
		charge := stepState(done, "charge-payment")
		Expect(charge.Attempts).To(Equal(int32(1)))
		Expect(charge.TimedOutAttempts).To(BeZero())
		Expect(done.Status.TimersPausedAt).To(BeNil())
		Expect(string(done.Status.TimersPausedFor)).NotTo(BeEmpty(), "the pause is accounted for")
	})
})
