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

package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// startBroker connects the operator's Broker with a topology of the test's
// own, and returns it with a channel of the test's own connection, to look
// at the broker from outside.
func startBroker(t *testing.T) (*broker.Broker, *amqp.Channel, broker.Topology) {
	t.Helper()
	g := NewWithT(t)
	topo := broker.Topology{Prefix: "test-" + rand.String(8)}
	b := broker.New(amqpconn.Config{URL: rabbitmq.BrokerURL(), Topology: topo}, testr.New(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Start(ctx) }()
	g.Eventually(b.Connected).WithTimeout(10 * time.Second).Should(BeTrue())
	g.Expect(b.Check(nil)).To(Succeed())

	conn, err := amqp.Dial(rabbitmq.BrokerURL())
	g.Expect(err).NotTo(HaveOccurred())
	ch, err := conn.Channel()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		cancel()
		<-done
		_ = topo.Delete(ch)
		_ = conn.Close()
	})
	return b, ch, topo
}

func TestDeadLetterKeepsTheReplyWithItsReason(t *testing.T) {
	g := NewWithT(t)
	b, ch, topo := startBroker(t)
	g.Expect(ch.Publish("", topo.ReplyQueue(), false, false, amqp.Publishing{
		MessageId: "r-1", ContentType: "text/plain", Body: []byte("not json"), Headers: amqp.Table{"x-saga-step": "pay"},
	})).To(Succeed())

	var d amqp.Delivery
	g.Eventually(func() bool {
		var ok bool
		d, ok, _ = ch.Get(topo.ReplyQueue(), false)
		return ok
	}).Should(BeTrue())
	g.Expect(b.DeadLetter(context.Background(), topo.DeadLetterExchange(), d, protocol.RejectWrongContentType, "content type text/plain")).To(Succeed())

	var dead amqp.Delivery
	g.Eventually(func() bool {
		var ok bool
		dead, ok, _ = ch.Get(topo.DeadLetterQueue(), true)
		return ok
	}).Should(BeTrue())
	g.Expect(dead.MessageId).To(Equal("r-1"))
	g.Expect(dead.Headers).To(HaveKeyWithValue(protocol.HeaderDeadLetterReason, protocol.RejectWrongContentType))
	g.Expect(dead.Headers).To(HaveKeyWithValue("x-saga-step", "pay"))

	q, err := ch.QueueDeclarePassive(topo.ReplyQueue(), true, false, false, false,
		amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(q.Messages).To(BeZero(), "the original reply is acknowledged")
}

func TestCheckFailsWhileDisconnected(t *testing.T) {
	g := NewWithT(t)
	b := broker.New(amqpconn.Config{URL: "amqp://guest:guest@127.0.0.1:1/", Topology: broker.Topology{Prefix: "none"}},
		testr.New(t))
	g.Expect(b.Check(nil)).To(MatchError(amqpconn.ErrNotConnected))
}
