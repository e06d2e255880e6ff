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
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

var _ = Describe("Bad replies", func() {
	It("are dead-lettered or ignored, counted, and change no saga", func() {
		ns, otherNS := newNamespace(), newNamespace()
		holdCharges := func(cmd protocol.Command) *protocol.Reply {
			if cmd.Kind == protocol.KindCommand {
				return nil // the charge waits, so the saga is running while the bad replies come
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		}
		script.set(ns, "payment", holdCharges)
		script.set(otherNS, "payment", holdCharges)
		target := createSaga(ns, "order-target", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Timeout = "1m" })
		other := createSaga(otherNS, "order-elsewhere", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Timeout = "1m" })
		Eventually(func() int { return len(received("payment", target.UID)) }).Should(Equal(1))
		Eventually(func() int { return len(received("payment", other.UID)) }).Should(Equal(1))
		charge := received("payment", target.UID)[0].Delivery
		reserve := received("inventory", target.UID)[0].Delivery
		otherCharge := received("payment", other.UID)[0].Delivery
		before := &ordersv1alpha1.OrderSaga{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(target), before)).To(Succeed())
		var metricsBefore = scrapeNow()

		ch := testChannel()
		ok := replyBody(protocol.Reply{Status: protocol.StatusSucceeded})
		headers := func(mutate func(*protocol.Headers)) map[string]any {
			h, err := protocol.ParseHeaders(charge.Headers)
			Expect(err).NotTo(HaveOccurred())
			mutate(&h)
			return h.Table()
		}
		type badReply struct {
			id, correlation string
			headers         map[string]any
			contentType     string
			body            []byte
			deadLetter      string // the reason, or "" if it is only ignored
		}
		bad := []badReply{
			{"bad-json", charge.MessageId, charge.Headers, protocol.ContentType, []byte(`{"status":`), protocol.RejectMalformed},
			{"bad-type", charge.MessageId, charge.Headers, "application/xml", []byte("<ok/>"), protocol.RejectWrongContentType},
			{"bad-size", charge.MessageId, charge.Headers, protocol.ContentType,
				[]byte(`{"status":"succeeded","message":"` + strings.Repeat("x", protocol.MaxReplyBytes) + `"}`), protocol.RejectOversized},
			{"bad-status", charge.MessageId, charge.Headers, protocol.ContentType, []byte(`{"status":"maybe"}`), protocol.RejectInvalid},
			{"bad-headers", charge.MessageId, nil, protocol.ContentType, ok, protocol.RejectMissingHeaders},
			{"bad-saga", charge.MessageId, headers(func(h *protocol.Headers) { h.SagaName = "no-such-saga" }), protocol.ContentType, ok, "UnknownSaga"},
			{"bad-step", charge.MessageId, headers(func(h *protocol.Headers) { h.Step = "schedule-shipment" }), protocol.ContentType, ok, "UnmatchedReply"},
			{"bad-attempt", charge.MessageId, headers(func(h *protocol.Headers) { h.Attempt = 2 }), protocol.ContentType, ok, "UnmatchedReply"},
			// Headers naming this saga, correlated with another namespace's command.
			{"bad-forged", otherCharge.MessageId, charge.Headers, protocol.ContentType, ok, "UnmatchedReply"},
			// The inventory's reply again: a replay of a handled reply is acknowledged and ignored.
			{"bad-replay", reserve.MessageId, reserve.Headers, protocol.ContentType,
				replyBody(protocol.Reply{Status: protocol.StatusFailed, Reason: "Replayed"}), ""},
		}
		for _, r := range bad {
			sendReply(ch, r.id, r.correlation, r.headers, r.contentType, r.body)
		}
		for _, r := range bad {
			if r.deadLetter != "" {
				Expect(deadLetters.reason(r.id)).To(Equal(r.deadLetter), r.id)
			}
		}
		Eventually(func(g Gomega) {
			after := scrape(g)
			for _, reason := range []string{protocol.RejectMalformed, protocol.RejectWrongContentType, protocol.RejectOversized,
				protocol.RejectInvalid, protocol.RejectMissingHeaders, "UnknownSaga"} {
				g.Expect(value(after, "ordersaga_replies_dead_lettered_total", map[string]string{"reason": reason})-
					value(metricsBefore, "ordersaga_replies_dead_lettered_total", map[string]string{"reason": reason})).
					To(BeNumerically(">=", 1), reason)
			}
			g.Expect(value(after, "ordersaga_replies_dead_lettered_total", map[string]string{"reason": "UnmatchedReply"}) -
				value(metricsBefore, "ordersaga_replies_dead_lettered_total", map[string]string{"reason": "UnmatchedReply"})).
				To(BeNumerically(">=", 3))
		}).Should(Succeed())
		// The replay was received (a failed reply, counted) and acknowledged,
		// never dead-lettered.
		Eventually(func(g Gomega) {
			g.Expect(value(scrape(g), "ordersaga_replies_received_total", map[string]string{"status": "failed"}) -
				value(metricsBefore, "ordersaga_replies_received_total", map[string]string{"status": "failed"})).To(BeNumerically(">=", 1))
		}).Should(Succeed())
		Consistently(func() bool { return deadLetters.has("bad-replay") }, time.Second).Should(BeFalse())

		By("leaving both sagas as they were, and the operator running")
		now := &ordersv1alpha1.OrderSaga{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(target), now)).To(Succeed())
		Expect(now.Status.Steps).To(Equal(before.Status.Steps))
		Expect(now.ResourceVersion).To(Equal(before.ResourceVersion), "no write at all")
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(other), now)).To(Succeed())
		Expect(stepState(now, "charge-payment").State).To(Equal(ordersv1alpha1.StepRunning))

		script.set(ns, "payment", nil)
		waitForPhase(createSaga(ns, "order-after-bad-replies"), ordersv1alpha1.PhaseCompleted)
	})
})

func scrapeNow() map[string]*dto.MetricFamily {
	var families map[string]*dto.MetricFamily
	Eventually(func(g Gomega) { families = scrape(g) }).Should(Succeed())
	return families
}
