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
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	"k8s.io/apimachinery/pkg/types"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/simparticipant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Issue #11: a reply whose saga headers named "..", "a/b" or "x%2f" made the
// operator's live read fail with an error that was not "not found"; it
// retried for ever without settling the reply, 256 of them filled the
// consumer's prefetch, and every saga stopped.
var _ = Describe("A flood of replies with bad saga headers", func() {
	It("dead-letters them all as InvalidHeader while every saga completes, no valid reply slower than without them", func() {
		const rounds = 5
		const sagasPerRound = 10 // three replies each
		const flood = 1000       // 7 bad replies ahead of each valid one

		// Rounds without and with the flood alternate, so that the load of
		// a shared machine weighs on both alike.
		f := &replyFlood{ch: testChannel(), total: flood, perReply: 7}
		before := scrapeNow()
		baseline := make(latencies, 0, 3*rounds*sagasPerRound)
		flooded := make(latencies, 0, 3*rounds*sagasPerRound)
		for range rounds {
			By("running sagas without the flood, for their normal reply latency")
			baseline = append(baseline, runSagasTimed(newNamespace(), sagasPerRound, simparticipant.Succeed)...)
			By("running the same sagas while each valid reply has bad ones just ahead of it in the reply queue")
			flooded = append(flooded, runSagasTimed(newNamespace(), sagasPerRound, f.ahead)...)
			By("dead-lettering every bad reply, before the next round without the flood")
			Eventually(func(g Gomega) {
				for _, id := range f.sentIDs() {
					g.Expect(deadLetters.has(id)).To(BeTrue(), id)
				}
			}).WithTimeout(time.Minute).Should(Succeed())
		}
		Expect(f.sentIDs()).To(HaveLen(flood), "every bad reply was sent while the sagas ran")

		By("dead-lettering the bad replies as InvalidHeader, counted")
		reasons := map[string]int{}
		for _, id := range f.sentIDs() {
			reasons[deadLetters.reason(id)]++
		}
		Expect(reasons).To(Equal(map[string]int{protocol.RejectInvalidHeader: flood}))
		Eventually(func(g Gomega) {
			after := scrape(g)
			invalid := map[string]string{"reason": protocol.RejectInvalidHeader}
			g.Expect(value(after, "ordersaga_replies_dead_lettered_total", invalid) -
				value(before, "ordersaga_replies_dead_lettered_total", invalid)).To(BeNumerically(">=", flood))
			g.Expect(value(after, "ordersaga_replies_returned_total", nil)).To(
				Equal(value(before, "ordersaga_replies_returned_total", nil)), "no valid reply went back to the broker")
			g.Expect(value(after, "ordersaga_inbox_replies", nil)).To(BeZero(), "nothing is left held")
		}).Should(Succeed())
		Expect(readyz()).To(Equal(http.StatusOK))

		By("delaying no valid reply beyond its normal latency")
		GinkgoWriter.Printf("reply latency without the flood: median %s, p90 %s; with it: median %s, p90 %s\n",
			baseline.quantile(0.5), baseline.quantile(0.9), flooded.quantile(0.5), flooded.quantile(0.9))
		// Generous slack: the machine is shared, and the flood's dead-letters
		// cost the broker some disk and CPU. Before the fix the sagas did
		// not complete at all.
		Expect(flooded.quantile(0.5)).To(BeNumerically("<=", 5*baseline.quantile(0.5)), "median")
		Expect(flooded.quantile(0.9)).To(BeNumerically("<=", 4*baseline.quantile(0.9)), "90th percentile")
	})
})

// replyFlood is a participant's behaviour wrapper that, before each valid
// reply, sends bad replies to the same command: its own headers with one
// saga header forged, its own correlation id.
type replyFlood struct {
	ch              *amqp.Channel
	total, perReply int

	mu   sync.Mutex
	sent []string
}

// forgeries are the saga headers a bad reply carries instead of the
// command's: each names no object the apiserver could hold.
var forgeries = []struct {
	header string
	forge  func(real string) string
}{
	{protocol.HeaderSagaNamespace, func(string) string { return ".." }},
	{protocol.HeaderSagaName, func(string) string { return "a/b" }},
	{protocol.HeaderSagaName, func(string) string { return "x%2f" }},
	{protocol.HeaderSagaUID, func(string) string { return "not-a-uid" }},
	{protocol.HeaderSagaUID, strings.ToUpper},
	{protocol.HeaderSagaNamespace, func(real string) string { return "../" + real }},
	{protocol.HeaderSagaName, func(real string) string { return real + "/status" }},
	{protocol.HeaderSagaName, func(string) string { return ".." }},
	{protocol.HeaderSagaNamespace, func(string) string { return "Kube-System" }},
	{protocol.HeaderSagaName, func(string) string { return strings.Repeat("a", 254) }},
	{protocol.HeaderSagaNamespace, func(real string) string { return real + "\x00" }},
	{protocol.HeaderStep, func(real string) string { return "../" + real }},
	{protocol.HeaderSagaUID, func(real string) string { return real + "\n" }},
	{protocol.HeaderSagaName, func(real string) string { return real + "%2f.." }},
}

func (f *replyFlood) ahead(cmd protocol.Command) *protocol.Reply {
	defer GinkgoRecover()
	received := received(serviceOf(cmd), types.UID(cmd.Saga.UID))
	d := received[len(received)-1].Delivery
	ok := replyBody(protocol.Reply{Status: protocol.StatusSucceeded})
	for range f.perReply {
		f.mu.Lock()
		n := len(f.sent)
		if n >= f.total {
			f.mu.Unlock()
			break
		}
		id := fmt.Sprintf("flood-%d", n)
		f.sent = append(f.sent, id)
		f.mu.Unlock()
		forgery := forgeries[n%len(forgeries)]
		headers := maps.Clone(d.Headers)
		real, _ := headers[forgery.header].(string)
		headers[forgery.header] = forgery.forge(real)
		sendReply(f.ch, id, d.MessageId, headers, protocol.ContentType, ok)
	}
	return &protocol.Reply{Status: protocol.StatusSucceeded}
}

func (f *replyFlood) sentIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

// serviceOf names the sample saga's service for a command.
func serviceOf(cmd protocol.Command) string {
	switch cmd.Step {
	case "reserve-inventory":
		return "inventory"
	case "charge-payment":
		return "payment"
	default:
		return "shipping"
	}
}

// latencies are the times from a participant's reply to the pass that
// applies it (the step's completedAt): the broker, the reply router, the
// inbox and the workqueue, not the participants' own queues.
type latencies []time.Duration

func (l latencies) quantile(q float64) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

// runSagasTimed creates n sample sagas in a namespace of their own at once,
// their participants answering as behave says, waits until every one is
// Completed, and returns the latency of each of their replies.
func runSagasTimed(ns string, n int, behave simparticipant.Behaviour) latencies {
	var mu sync.Mutex
	replied := map[string]time.Time{} // by saga uid and step
	timed := func(cmd protocol.Command) *protocol.Reply {
		reply := behave(cmd)
		mu.Lock()
		defer mu.Unlock()
		replied[cmd.Saga.UID+"/"+cmd.Step] = time.Now() // the reply leaves right after
		return reply
	}
	for _, service := range []string{"inventory", "payment", "shipping"} {
		script.set(ns, service, timed)
	}
	created := make([]*ordersv1alpha1.OrderSaga, n)
	for i := range created {
		created[i] = createSaga(ns, fmt.Sprintf("order-%d", i))
	}
	var out latencies
	for _, s := range created {
		done := waitForPhase(s, ordersv1alpha1.PhaseCompleted)
		mu.Lock()
		for _, step := range done.Status.Steps {
			at, ok := replied[string(done.UID)+"/"+step.Name]
			Expect(ok).To(BeTrue(), "%s answered", step.Name)
			Expect(step.CompletedAt).NotTo(BeNil())
			out = append(out, step.CompletedAt.Sub(at))
		}
		mu.Unlock()
	}
	return out
}
