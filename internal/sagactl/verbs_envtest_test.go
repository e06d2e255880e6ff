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

package sagactl

import (
	"bytes"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// verbNamespace holds the sagas the verbs change, apart from the fixtures
// the rendering tests read.
const verbNamespace = "oncall"

var _ = Describe("kubectl saga verbs", Ordered, func() {
	now := time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)

	// saga stores a copy of the fixture under name in verbNamespace.
	saga := func(s *ordersv1alpha1.OrderSaga, name string) {
		GinkgoHelper()
		s.Namespace, s.Name = verbNamespace, name
		store(s)
	}
	get := func(name string) *ordersv1alpha1.OrderSaga {
		GinkgoHelper()
		s := &ordersv1alpha1.OrderSaga{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: verbNamespace, Name: name}, s)).To(Succeed())
		return s
	}
	// requests returns the SagaRequests asking verb of the saga.
	requests := func(g Gomega, sagaName string, verb ordersv1alpha1.SagaVerb) []ordersv1alpha1.SagaRequest {
		list := &ordersv1alpha1.SagaRequestList{}
		g.Expect(k8sClient.List(ctx, list, client.InNamespace(verbNamespace))).To(Succeed())
		var out []ordersv1alpha1.SagaRequest
		for _, r := range list.Items {
			if r.Spec.Saga == sagaName && r.Spec.Verb == verb {
				out = append(out, r)
			}
		}
		return out
	}
	// answer waits for the one request asking verb of the saga and writes
	// the operator's answer through the status subresource, as the
	// operator would.
	answer := func(sagaName string, verb ordersv1alpha1.SagaVerb, phase ordersv1alpha1.SagaRequestPhase, message string) {
		GinkgoHelper()
		var req ordersv1alpha1.SagaRequest
		Eventually(func(g Gomega) {
			reqs := requests(g, sagaName, verb)
			g.Expect(reqs).To(HaveLen(1))
			req = reqs[0]
		}).Should(Succeed())
		req.Status = ordersv1alpha1.SagaRequestStatus{Phase: phase, Message: message, HandledAt: &metav1.Time{Time: now}}
		Expect(k8sClient.Status().Update(ctx, &req)).To(Succeed())
	}
	type result struct {
		out string
		err error
	}
	// start runs the command line in the background, as a person waiting
	// for the operator's answer.
	start := func(args ...string) <-chan result {
		done := make(chan result, 1)
		go func() {
			defer GinkgoRecover()
			out, _, err := run(now, append(args, "-n", verbNamespace)...)
			done <- result{out, err}
		}()
		return done
	}

	BeforeAll(func() {
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: verbNamespace}})).To(Succeed())
	})

	Describe("suspend and resume", func() {
		It("sets and clears spec.suspend, refusing to do either twice", func() {
			saga(runningSaga(), "order-2001")
			out, _, err := run(now, "suspend", "order-2001", "-n", verbNamespace)
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(Equal("ordersaga.orders.ordersaga.io/order-2001 suspended\n"))
			Expect(get("order-2001").Spec.Suspend).To(BeTrue())

			_, _, err = run(now, "suspend", "order-2001", "-n", verbNamespace)
			Expect(isRefusal(err)).To(BeTrue(), "a refusal: %v", err)
			Expect(err).To(MatchError(ContainSubstring("cannot suspend order-2001: the saga is already suspended")))

			out, _, err = run(now, "resume", "order-2001", "-n", verbNamespace)
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(Equal("ordersaga.orders.ordersaga.io/order-2001 resumed\n"))
			Expect(get("order-2001").Spec.Suspend).To(BeFalse())

			_, _, err = run(now, "resume", "order-2001", "-n", verbNamespace)
			Expect(isRefusal(err)).To(BeTrue(), "a refusal: %v", err)
		})

		It("refuses a finished saga and leaves it unchanged", func() {
			// Not Compensated: list -A --phase Compensated must see the
			// fixtures only.
			saga(failedSaga(), "order-2002")
			_, _, err := run(now, "suspend", "order-2002", "-n", verbNamespace)
			Expect(err).To(MatchError("cannot suspend order-2002: the saga is Failed: it has finished, " +
				"and suspend applies only to a saga that has not"))
			Expect(get("order-2002").Spec.Suspend).To(BeFalse())
		})

		It("refuses to write a saga that changed after the verb's check", func() {
			saga(runningSaga(), "order-2003")
			// The verb's check passes, then someone else changes the saga
			// before the verb writes it.
			racing := suspendVerb()
			check := racing.refuse
			racing.refuse = func(read *ordersv1alpha1.OrderSaga) error {
				changed := read.DeepCopy()
				metav1.SetMetaDataLabel(&changed.ObjectMeta, "touched", "true")
				Expect(k8sClient.Update(ctx, changed)).To(Succeed())
				return check(read)
			}
			var out, errOut bytes.Buffer
			o := options(now, &out, &errOut)
			*o.ConfigFlags.Namespace = verbNamespace
			err := o.runVerb(ctx, racing, "order-2003")
			Expect(err).To(MatchError(ContainSubstring("cannot suspend order-2003: the saga changed while the request was made")))
			Expect(get("order-2003").Spec.Suspend).To(BeFalse())
		})
	})

	Describe("verbs through a SagaRequest", func() {
		It("creates a Skip request naming the step and returns at once with --wait=false", func() {
			saga(runningSaga(), "order-2011")
			out, _, err := run(now, "skip", "order-2011", "charge-payment", "-n", verbNamespace,
				"--reason", "charged by hand, ticket PAY-77", "--wait=false")
			Expect(err).NotTo(HaveOccurred())
			reqs := requests(Default, "order-2011", ordersv1alpha1.VerbSkip)
			Expect(reqs).To(HaveLen(1))
			req := reqs[0]
			Expect(out).To(Equal("sagarequest.orders.ordersaga.io/" + req.Name + " created\n"))
			Expect(req.Name).To(HavePrefix("order-2011-skip-"))
			Expect(req.Spec.Saga).To(Equal("order-2011"))
			Expect(req.Spec.Verb).To(Equal(ordersv1alpha1.VerbSkip))
			Expect(req.Spec.Step).To(Equal("charge-payment"))
			Expect(req.Spec.Reason).To(Equal("charged by hand, ticket PAY-77"))
		})

		It("waits for the operator's answer and prints it", func() {
			saga(runningSaga(), "order-2012")
			done := start("cancel", "order-2012", "--reason", "customer cancelled by phone")
			Consistently(done, "300ms").ShouldNot(Receive())
			answer("order-2012", ordersv1alpha1.VerbCancel, ordersv1alpha1.RequestDone, "The saga stopped and compensates")
			var r result
			Eventually(done).Should(Receive(&r))
			Expect(r.err).NotTo(HaveOccurred())
			Expect(r.out).To(MatchRegexp(`^sagarequest.orders.ordersaga.io/order-2012-cancel-\w+ created\n` +
				`Done: The saga stopped and compensates\n$`))
		})

		It("fails with a refusal when the operator refuses", func() {
			saga(failedSaga(), "order-2013")
			done := start("retry", "order-2013", "--reason", "payments fixed")
			answer("order-2013", ordersv1alpha1.VerbRetry, ordersv1alpha1.RequestRefused,
				"Retry applies only to a Failed saga (a compensation failed for good); the saga is Compensating")
			var r result
			Eventually(done).Should(Receive(&r))
			Expect(isRefusal(r.err)).To(BeTrue(), "a refusal: %v", r.err)
			Expect(r.err).To(MatchError("the operator refused Retry order-2013: Retry applies only to a Failed saga " +
				"(a compensation failed for good); the saga is Compensating"))
			Expect(r.out).To(HaveSuffix("\nRefused: Retry applies only to a Failed saga (a compensation failed for good); the saga is Compensating\n"))
		})

		It("gives up after --timeout, saying the request stays", func() {
			saga(completedSaga(), "order-2014")
			_, _, err := run(now, "compensate", "order-2014", "-n", verbNamespace, "--reason", "fraud case FR-9", "--timeout", "1s")
			Expect(err).To(MatchError(MatchRegexp(`the operator has not handled sagarequest order-2014-compensate-\w+ within 1s`)))
			Expect(requests(Default, "order-2014", ordersv1alpha1.VerbCompensate)).To(HaveLen(1))
		})

		It("refuses an inapplicable verb without creating a request", func() {
			saga(runningSaga(), "order-2015")
			_, _, err := run(now, "compensate", "order-2015", "-n", verbNamespace, "--reason", "return")
			Expect(isRefusal(err)).To(BeTrue(), "a refusal: %v", err)
			Expect(err).To(MatchError("cannot compensate order-2015: the saga is Running; " +
				"compensate applies only to a Completed saga (cancel stops a running one)"))
			Expect(requests(Default, "order-2015", ordersv1alpha1.VerbCompensate)).To(BeEmpty())
		})

		It("wants a reason", func() {
			_, _, err := run(now, "cancel", "order-2015", "-n", verbNamespace)
			Expect(err).To(MatchError(ContainSubstring(`required flag(s) "reason" not set`)))
			_, _, err = run(now, "cancel", "order-2015", "-n", verbNamespace, "--reason", " ")
			Expect(err).To(MatchError("cannot cancel order-2015: --reason must say why"))
			Expect(requests(Default, "order-2015", ordersv1alpha1.VerbCancel)).To(BeEmpty())
		})
	})

	Describe("list --drill", func() {
		It("lists only the compensation drills", func() {
			drill := runningSaga()
			drill.Status.Drill = true
			saga(drill, "order-2021")
			out, _, err := run(time.Now(), "list", "--drill", "-n", verbNamespace)
			Expect(err).NotTo(HaveOccurred())
			lines := strings.Split(strings.TrimSpace(out), "\n")
			Expect(lines).To(HaveLen(2))
			Expect(strings.Fields(lines[1])[0]).To(Equal("order-2021"))
		})
	})
})
