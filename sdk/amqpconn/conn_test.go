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

package amqpconn_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/internal/rabbittest"
)

// These tests run against the real RabbitMQ that "make test" ensures.
var brokerURL = rabbittest.BrokerURL

// testTopology is the exchange of one test, declared on every connection.
type testTopology struct{ Prefix string }

func (t testTopology) CommandExchange() string { return t.Prefix + ".commands" }

func (t testTopology) Declare(ch *amqp.Channel) error {
	return ch.ExchangeDeclare(t.CommandExchange(), amqp.ExchangeTopic, false, false, false, false, nil)
}

func (t testTopology) Delete(ch *amqp.Channel) error {
	return ch.ExchangeDelete(t.CommandExchange(), false, false)
}

// startBroker starts a Broker on a topology of its own and removes the
// topology when the test ends.
func startBroker(t *testing.T) (*amqpconn.Conn, *amqp.Channel, testTopology) {
	t.Helper()
	b, ch, topo, _ := startObservedBroker(t)
	return b, ch, topo
}

// connectionObserver counts the connection's ups and downs.
type connectionObserver struct {
	mu        sync.Mutex
	ups, down int
}

func (o *connectionObserver) ConnectionChanged(up bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if up {
		o.ups++
	} else {
		o.down++
	}
}

func (o *connectionObserver) Published(time.Duration, error) {}

func (o *connectionObserver) counts() (ups, downs int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ups, o.down
}

func startObservedBroker(t *testing.T) (*amqpconn.Conn, *amqp.Channel, testTopology, *connectionObserver) {
	t.Helper()
	g := NewWithT(t)
	topo := testTopology{Prefix: rabbittest.Name("test")}
	observer := &connectionObserver{}
	b := amqpconn.New(amqpconn.Config{URL: brokerURL(), Topology: topo, MinReconnectDelay: 50 * time.Millisecond,
		MaxReconnectDelay: time.Second, Observer: observer}, testr.New(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Start(ctx) }()
	g.Eventually(b.Connected).WithTimeout(10 * time.Second).Should(BeTrue())

	// A connection of the test's own, to look at the broker from outside.
	conn, err := amqp.Dial(brokerURL())
	g.Expect(err).NotTo(HaveOccurred())
	ch, err := conn.Channel()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		cancel()
		<-done
		_ = topo.Delete(ch)
		_ = conn.Close()
	})
	return b, ch, topo, observer
}

// bindQueue declares a queue bound to the command exchange with key.
func bindQueue(t *testing.T, ch *amqp.Channel, topo testTopology, key string) string {
	t.Helper()
	// Not exclusive: the Broker's own connection consumes it in some tests.
	q, err := ch.QueueDeclare(rabbittest.Name(topo.Prefix), false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = ch.QueueDelete(q.Name, false, false, false) })
	if err := ch.QueueBind(q.Name, key, topo.CommandExchange(), false, nil); err != nil {
		t.Fatal(err)
	}
	return q.Name
}

func TestPublishConfirmsARoutedMessage(t *testing.T) {
	g := NewWithT(t)
	b, ch, topo := startBroker(t)
	queue := bindQueue(t, ch, topo, "inventory.*")

	err := b.Publish(context.Background(), topo.CommandExchange(), "inventory.Reserve",
		amqpconn.Message{MessageID: "m-1", ContentType: "application/json", Body: []byte("{}")})
	g.Expect(err).NotTo(HaveOccurred())

	msg, ok, err := ch.Get(queue, true)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
	g.Expect(msg.MessageId).To(Equal("m-1"))
	g.Expect(msg.DeliveryMode).To(Equal(amqp.Persistent))
}

func TestPublishReportsAnUnroutableMessage(t *testing.T) {
	g := NewWithT(t)
	b, _, topo := startBroker(t)
	err := b.Publish(context.Background(), topo.CommandExchange(), "nobody.Listens",
		amqpconn.Message{MessageID: "m-1", Body: []byte("{}")})
	var unroutable *amqpconn.UnroutableError
	g.Expect(errors.As(err, &unroutable)).To(BeTrue(), "got %v", err)
	g.Expect(unroutable.RoutingKey).To(Equal("nobody.Listens"))
}

// Concurrent publishes, half of them unroutable, must each get the right
// verdict: the return of one message must never be attributed to another.
func TestConcurrentPublishesGetTheirOwnVerdict(t *testing.T) {
	g := NewWithT(t)
	b, ch, topo := startBroker(t)
	bindQueue(t, ch, topo, "routed.*")

	var wg sync.WaitGroup
	errs := make([]error, 400)
	for i := range errs {
		wg.Go(func() {
			key := "routed.Cmd"
			if i%2 == 1 {
				key = "unrouted.Cmd"
			}
			errs[i] = b.Publish(context.Background(), topo.CommandExchange(), key,
				amqpconn.Message{MessageID: fmt.Sprintf("m-%d", i), Body: []byte("{}")})
		})
	}
	wg.Wait()
	for i, err := range errs {
		var unroutable *amqpconn.UnroutableError
		if i%2 == 0 {
			g.Expect(err).NotTo(HaveOccurred(), "message %d", i)
		} else {
			g.Expect(errors.As(err, &unroutable)).To(BeTrue(), "message %d: %v", i, err)
		}
	}
}

func TestReconnectsAfterTheConnectionIsClosed(t *testing.T) {
	g := NewWithT(t)
	b, ch, topo, observer := startObservedBroker(t)
	queue := bindQueue(t, ch, topo, "svc.*")

	received := make(chan amqp.Delivery, 10)
	consumer := &amqpconn.Consumer{Conn: b, Queue: queue, Tag: "test", Log: testr.New(t),
		Handle: func(_ context.Context, d amqp.Delivery) { _ = d.Ack(false); received <- d }}
	go func() { _ = consumer.Start(t.Context()) }()

	publish := func(id string) error {
		return b.Publish(context.Background(), topo.CommandExchange(), "svc.Cmd", amqpconn.Message{MessageID: id})
	}
	g.Expect(publish("before")).To(Succeed())
	g.Eventually(received).WithTimeout(5 * time.Second).Should(Receive(HaveField("MessageId", "before")))

	b.CloseConnection()
	g.Eventually(func() []int { u, d := observer.counts(); return []int{u, d} }).
		WithTimeout(10*time.Second).Should(Equal([]int{2, 1}), "one loss, one reconnection")
	g.Eventually(b.Connected).Should(BeTrue())

	g.Eventually(func() error { return publish("after") }).WithTimeout(5 * time.Second).Should(Succeed())
	g.Eventually(received).WithTimeout(5 * time.Second).Should(Receive(HaveField("MessageId", "after")))
}

func TestPublishWhileDisconnectedFailsFast(t *testing.T) {
	g := NewWithT(t)
	b := amqpconn.New(amqpconn.Config{URL: "amqp://guest:guest@127.0.0.1:1/", Topology: testTopology{Prefix: "none"}},
		testr.New(t))
	err := b.Publish(context.Background(), "x", "y", amqpconn.Message{})
	g.Expect(err).To(MatchError(amqpconn.ErrNotConnected))
	g.Expect(b.Connected()).To(BeFalse())
}
