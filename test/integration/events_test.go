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
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/lifecycle"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// eventInbox is an order service listening to the lifecycle events of one
// namespace, as docs/events.md tells it to: a queue of its own bound with
// "<namespace>.#", deduplicating by message id.
type eventInbox struct {
	mu sync.Mutex
	// bySaga holds each saga's events in the order they first arrived.
	bySaga     map[types.UID][]protocol.Event
	seen       map[string]bool
	deliveries int
}

func listenToEvents(namespace string) *eventInbox {
	in := &eventInbox{bySaga: map[types.UID][]protocol.Event{}, seen: map[string]bool{}}
	ch := testChannel()
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	Expect(err).NotTo(HaveOccurred())
	Expect(ch.QueueBind(q.Name, namespace+".#", topology.EventExchange(), false, nil)).To(Succeed())
	deliveries, err := ch.Consume(q.Name, "", false, true, false, false, nil)
	Expect(err).NotTo(HaveOccurred())
	go func() {
		for d := range deliveries {
			in.take(d)
		}
	}()
	return in
}

func (in *eventInbox) take(d amqp.Delivery) {
	defer func() { _ = d.Ack(false) }()
	var ev protocol.Event
	if json.Unmarshal(d.Body, &ev) != nil || ev.ID != d.MessageId {
		return // the test's assertions on counts catch it
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.deliveries++
	if in.seen[d.MessageId] {
		return
	}
	in.seen[d.MessageId] = true
	in.bySaga[types.UID(ev.Saga.UID)] = append(in.bySaga[types.UID(ev.Saga.UID)], ev)
}

func (in *eventInbox) of(uid types.UID) []protocol.Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]protocol.Event(nil), in.bySaga[uid]...)
}

func (in *eventInbox) count() (unique, deliveries int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.seen), in.deliveries
}

// expectedEvents are the events a saga's history announces, in order.
func expectedEvents(s *ordersv1alpha1.OrderSaga) []string {
	pending, lost := lifecycle.Pending(&s.Status, 0)
	Expect(lost).To(BeZero(), "the saga's history is whole")
	out := make([]string, len(pending))
	for i, e := range pending {
		out[i] = fmt.Sprintf("%d:%s", e.Seq, e.Reason)
	}
	return out
}

func eventsSeen(evs []protocol.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%d:%s", e.Seq, e.Reason)
	}
	return out
}

func eventTypesOf(evs []protocol.Event) []protocol.EventType {
	out := make([]protocol.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

var _ = Describe("Lifecycle events on the bus", func() {
	It("reach an order service exactly once each after dedupe, in order, across three kills of the operator", func() {
		ns := newNamespace()
		events := listenToEvents(ns)
		// Every fourth order's payment is declined: those sagas compensate.
		script.set(ns, "payment", func(cmd protocol.Command) *protocol.Reply {
			if cmd.Kind == protocol.KindCommand && strings.HasSuffix(cmd.Saga.Name, "-declined") {
				return &protocol.Reply{Status: protocol.StatusFailed, Reason: "CardDeclined"}
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		const total = 100
		sagas := make([]*ordersv1alpha1.OrderSaga, total)
		for i := range sagas {
			name := fmt.Sprintf("order-%03d", i)
			if i%4 == 0 {
				name += "-declined"
			}
			sagas[i] = createSaga(ns, name)
		}

		// Kill the operator three times while events flow: whatever it had
		// published and not yet recorded is published again by the next.
		for _, after := range []int{40, 200, 360} {
			Eventually(func() int { n, _ := events.count(); return n }).WithTimeout(time.Minute).
				Should(BeNumerically(">=", after))
			running.stop()
			running = startOperator()
		}

		completed, compensated := 0, 0
		for _, s := range sagas {
			done := waitForFinalPhase(s)
			want := expectedEvents(done)
			Eventually(func() []string { return eventsSeen(events.of(done.UID)) }).
				Should(Equal(want), "saga %s: one of each event, none missing, in transition order", done.Name)
			switch done.Status.Phase {
			case ordersv1alpha1.PhaseCompleted:
				completed++
				Expect(eventTypesOf(events.of(done.UID))).To(Equal([]protocol.EventType{
					protocol.EventSagaStarted, protocol.EventStepSucceeded, protocol.EventStepSucceeded,
					protocol.EventStepSucceeded, protocol.EventSagaCompleted}))
			case ordersv1alpha1.PhaseCompensated:
				compensated++
				Expect(eventTypesOf(events.of(done.UID))).To(Equal([]protocol.EventType{
					protocol.EventSagaStarted, protocol.EventStepSucceeded, protocol.EventStepFailed,
					protocol.EventCompensationStarted, protocol.EventStepCompensated, protocol.EventSagaCompensated}))
			}
			for _, ev := range events.of(done.UID) {
				Expect(ev.ID).To(Equal(protocol.EventID(string(done.UID), ev.Seq)))
				Expect(ev.OrderID).To(Equal(done.Spec.Order.ID))
			}
		}
		Expect(completed).To(Equal(total * 3 / 4))
		Expect(compensated).To(Equal(total / 4))
		unique, deliveries := events.count()
		GinkgoWriter.Printf("lifecycle events: %d unique, %d delivered (duplicates from the kills: %d)\n", unique, deliveries, deliveries-unique)

		By("letting each finished saga retire from the operator's cache once its events are out")
		for _, s := range sagas {
			Eventually(func(g Gomega) {
				got := &ordersv1alpha1.OrderSaga{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), got)).To(Succeed())
				g.Expect(got.Labels).To(HaveKeyWithValue(ordersv1alpha1.FinishedLabel, "true"))
				g.Expect(got.Finalizers).To(BeEmpty())
			}).Should(Succeed())
		}
	})

	It("deletes a finished saga after its time to live, its final event published before", func() {
		ns := newNamespace()
		events := listenToEvents(ns)
		// One expires before the retention sweeper's next look and goes by
		// its own pass; the other retires first and goes by the sweeper.
		soon := createSaga(ns, "order-ttl-0", func(s *ordersv1alpha1.OrderSaga) { s.Spec.TTLSecondsAfterFinished = ptr.To[int32](0) })
		later := createSaga(ns, "order-ttl-3", func(s *ordersv1alpha1.OrderSaga) { s.Spec.TTLSecondsAfterFinished = ptr.To[int32](3) })

		for _, s := range []*ordersv1alpha1.OrderSaga{soon, later} {
			Eventually(func() error {
				return k8sClient.Get(ctx, client.ObjectKeyFromObject(s), &ordersv1alpha1.OrderSaga{})
			}).Should(Satisfy(apierrors.IsNotFound))
			evs := events.of(s.UID)
			Expect(evs).NotTo(BeEmpty())
			Expect(evs[len(evs)-1].Type).To(Equal(protocol.EventSagaCompleted), "its final event was out before it was deleted")
		}
	})
})
