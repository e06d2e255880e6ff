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
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	"k8s.io/apimachinery/pkg/types"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/badheaders"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/simparticipant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Issue #11: a reply whose saga headers named "..", "a/b" or "x%2f" made the
// operator's live read fail with an error that was not "not found"; it
// retried for ever without settling the reply, 256 of them filled the
// consumer's prefetch, and every saga stopped. How much the flood slows the
// valid replies is measured by the benchmark (go run ./test/bench -runs
// flood), not here.
var _ = Describe("A flood of replies with bad saga headers", func() {
	It("dead-letters them all as InvalidHeader while every saga completes", func() {
		const batches = 5
		const sagasPerBatch = 10 // three replies each
		const flood = 1000       // 7 bad replies ahead of each valid one: more than the consumer's prefetch

		f := &replyFlood{ch: testChannel(), total: flood, perReply: 7}
		before := scrapeNow()
		for range batches {
			By("running sagas while each valid reply has bad ones just ahead of it in the reply queue")
			runSagas(newNamespace(), sagasPerBatch, f.ahead)
		}
		Expect(f.sentIDs()).To(HaveLen(flood), "every bad reply was sent while the sagas ran")

		By("dead-lettering every bad reply as InvalidHeader, counted")
		Eventually(func(g Gomega) {
			for _, id := range f.sentIDs() {
				g.Expect(deadLetters.has(id)).To(BeTrue(), id)
			}
		}).WithTimeout(time.Minute).Should(Succeed())
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
		sendReply(f.ch, id, d.MessageId, badheaders.Forge(d.Headers, n), protocol.ContentType, ok)
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

// runSagas creates n sample sagas in a namespace of their own at once,
// their participants answering as behave says, and waits until every one is
// Completed, each of its steps Succeeded.
func runSagas(ns string, n int, behave simparticipant.Behaviour) {
	for _, service := range []string{"inventory", "payment", "shipping"} {
		script.set(ns, service, behave)
	}
	created := make([]*ordersv1alpha1.OrderSaga, n)
	for i := range created {
		created[i] = createSaga(ns, fmt.Sprintf("order-%d", i))
	}
	for _, s := range created {
		done := waitForPhase(s, ordersv1alpha1.PhaseCompleted)
		for _, step := range done.Status.Steps {
			Expect(step.State).To(Equal(ordersv1alpha1.StepSucceeded), step.Name)
		}
	}
}
