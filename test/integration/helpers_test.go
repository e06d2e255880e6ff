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
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/simparticipant"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// createSaga creates the three-step sample saga (timeouts 5s, retries fast)
// adjusted by mutate.
func createSaga(namespace, name string, mutate ...func(*ordersv1alpha1.OrderSaga)) *ordersv1alpha1.OrderSaga {
	s := fixtures.NewSaga(namespace, name)
	for i := range s.Spec.Steps {
		s.Spec.Steps[i].Timeout = "5s"
		s.Spec.Steps[i].Retry = ordersv1alpha1.RetryPolicy{MaxAttempts: 3, InitialDelay: "100ms", Factor: 2, MaxDelay: "1s"}
	}
	for _, f := range mutate {
		f(s)
	}
	Expect(k8sClient.Create(ctx, s)).To(Succeed())
	return s
}

// waitForPhase waits until the saga reaches phase, and returns it.
func waitForPhase(s *ordersv1alpha1.OrderSaga, phase ordersv1alpha1.SagaPhase) *ordersv1alpha1.OrderSaga {
	out := &ordersv1alpha1.OrderSaga{}
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), out)).To(Succeed())
		g.Expect(out.Status.Phase).To(Equal(phase), "steps: %+v", out.Status.Steps)
	}).Should(Succeed())
	return out
}

// waitForFinalPhase waits until the saga is in a final phase, and returns it.
func waitForFinalPhase(s *ordersv1alpha1.OrderSaga) *ordersv1alpha1.OrderSaga {
	out := &ordersv1alpha1.OrderSaga{}
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), out)).To(Succeed())
		g.Expect(out.Status.Phase.IsFinal()).To(BeTrue(), "phase %s, steps: %+v", out.Status.Phase, out.Status.Steps)
	}).WithTimeout(2 * time.Minute).Should(Succeed())
	return out
}

func stepState(s *ordersv1alpha1.OrderSaga, step string) ordersv1alpha1.StepStatus {
	for _, rec := range s.Status.Steps {
		if rec.Name == step {
			return rec
		}
	}
	return ordersv1alpha1.StepStatus{}
}

// received returns what a participant received for one saga.
func received(service string, uid types.UID) []simparticipant.Received {
	var out []simparticipant.Received
	for _, r := range participants[service].Received() {
		if r.Command.Saga.UID == string(uid) {
			out = append(out, r)
		}
	}
	return out
}

// sequence renders what the participants received for a saga, in the order
// received, as "Command#attempt".
func sequence(uid types.UID) []string {
	all := make([]simparticipant.Received, 0, 8)
	for service := range participants {
		all = append(all, received(service, uid)...)
	}
	slices.SortFunc(all, func(a, b simparticipant.Received) int { return a.At.Compare(b.At) })
	out := make([]string, len(all))
	for i, r := range all {
		out[i] = fmt.Sprintf("%s#%d", r.Command.Name, r.Command.Attempt)
	}
	return out
}

func eventReasons(g Gomega, s *ordersv1alpha1.OrderSaga) []string {
	list := &eventsv1.EventList{}
	g.Expect(k8sClient.List(ctx, list, client.InNamespace(s.Namespace))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.UID == s.UID {
			out = append(out, e.Reason)
		}
	}
	return out
}

// testChannel opens an AMQP channel of the test's own.
func testChannel() *amqp.Channel {
	conn, err := amqp.Dial(rabbitmq.BrokerURL())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	Expect(err).NotTo(HaveOccurred())
	return ch
}

// sendReply publishes a reply to the operator's reply queue as a
// participant would, with the given headers and correlation id.
func sendReply(ch *amqp.Channel, messageID, correlationID string, headers map[string]any, contentType string, body []byte) {
	Expect(ch.PublishWithContext(context.Background(), "", topology.ReplyQueue(), false, false, amqp.Publishing{
		MessageId: messageID, CorrelationId: correlationID, ContentType: contentType,
		Headers: headers, Body: body, DeliveryMode: amqp.Persistent,
	})).To(Succeed())
}

func replyBody(r protocol.Reply) []byte {
	b, err := json.Marshal(r)
	Expect(err).NotTo(HaveOccurred())
	return b
}

// deadLetterBox records what reaches the suite's dead-letter queue.
type deadLetterBox struct {
	mu      sync.Mutex
	reasons map[string]string // message id → reason
}

// collectDeadLetters consumes the dead-letter queue for the whole suite,
// through a consumer that reconnects: some tests close every connection.
func collectDeadLetters() *deadLetterBox {
	box := &deadLetterBox{reasons: map[string]string{}}
	b := broker.New(amqpconn.Config{URL: rabbitmq.BrokerURL(), ConnectionName: "controller-suite-dead-letters",
		MinReconnectDelay: 50 * time.Millisecond, MaxReconnectDelay: time.Second}, logr.Discard())
	consumer := &amqpconn.Consumer{Conn: b.Conn, Queue: topology.DeadLetterQueue(), Tag: "controller-suite", Log: logr.Discard(),
		Handle: func(_ context.Context, d amqp.Delivery) {
			reason, _ := d.Headers[protocol.HeaderDeadLetterReason].(string)
			box.mu.Lock()
			box.reasons[d.MessageId] = reason
			box.mu.Unlock()
			_ = d.Ack(false)
		}}
	cctx, stop := context.WithCancel(ctx)
	go func() { _ = b.Start(cctx) }()
	go func() { _ = consumer.Start(cctx) }()
	DeferCleanup(stop)
	return box
}

// withChannel runs f on a channel of a fresh connection.
func withChannel(f func(ch *amqp.Channel)) {
	conn, err := amqp.Dial(rabbitmq.BrokerURL())
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	Expect(err).NotTo(HaveOccurred())
	f(ch)
}

// reason waits for the dead letter with messageID and returns its reason.
func (b *deadLetterBox) reason(messageID string) string {
	var reason string
	EventuallyWithOffset(1, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		var ok bool
		reason, ok = b.reasons[messageID]
		return ok
	}).Should(BeTrue())
	return reason
}

func (b *deadLetterBox) has(messageID string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.reasons[messageID]
	return ok
}

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}
