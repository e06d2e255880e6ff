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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
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

// connectionObserver counts the connection's ups and downs, and records
// whether the broker blocks publishing.
type connectionObserver struct {
	mu        sync.Mutex
	ups, down int
	blocked   bool
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

func (o *connectionObserver) PublishingBlocked(blocked bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.blocked = blocked
}

func (o *connectionObserver) Published(time.Duration, error) {}

func (o *connectionObserver) publishingBlocked() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.blocked
}

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
	g.Expect(b.UnavailableSince()).To(BeZero())

	b.CloseConnection()
	g.Eventually(func() []int { u, d := observer.counts(); return []int{u, d} }).
		WithTimeout(10*time.Second).Should(Equal([]int{2, 1}), "one loss, one reconnection")
	g.Eventually(b.Connected).Should(BeTrue())
	g.Expect(b.UnavailableSince()).To(BeZero())

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
	g.Expect(b.UnavailableSince()).NotTo(BeZero(), "unavailable since it was made")
}

// A broker that blocks publishers (here a memory alarm, raised by a zero
// watermark) leaves the connection open; the Broker must report it not
// connected meanwhile, to its readiness check and to its observer. The alarm
// blocks every publisher of the broker for a moment: make test runs the
// packages one at a time.
func TestBlockedBrokerIsNotConnected(t *testing.T) {
	g := NewWithT(t)
	b, ch, topo, observer := startObservedBroker(t)
	queue := bindQueue(t, ch, topo, "svc.*")

	watermark, err := rabbittest.Rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().")
	g.Expect(err).NotTo(HaveOccurred())
	restored := false
	restore := func() error {
		_, err := rabbittest.Rabbitmqctl("eval", "vm_memory_monitor:set_vm_memory_high_watermark("+strings.TrimSpace(string(watermark))+").")
		restored = err == nil
		return err
	}
	t.Cleanup(func() {
		if !restored {
			_ = restore()
		}
	})
	_, err = rabbittest.Rabbitmqctl("set_vm_memory_high_watermark", "0")
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() (string, error) {
		alarms, err := rabbittest.Rabbitmqctl("eval", "rabbit_alarm:get_alarms().")
		return string(alarms), err
	}).WithTimeout(10*time.Second).Should(ContainSubstring("memory"), "the memory alarm is raised")

	// RabbitMQ blocks a connection when it next publishes.
	published := make(chan error, 1)
	go func() {
		published <- b.Publish(context.Background(), topo.CommandExchange(), "svc.Cmd", amqpconn.Message{MessageID: "while-blocked"})
	}()
	g.Eventually(b.Connected).WithTimeout(10 * time.Second).Should(BeFalse())
	g.Expect(b.UnavailableSince()).NotTo(BeZero(), "blocked since the alarm")
	g.Eventually(observer.publishingBlocked).Should(BeTrue())

	g.Expect(restore()).To(Succeed())
	g.Eventually(b.Connected).WithTimeout(10 * time.Second).Should(BeTrue())
	g.Eventually(observer.publishingBlocked).Should(BeFalse())
	ups, downs := observer.counts()
	g.Expect([]int{ups, downs}).To(Equal([]int{1, 0}), "the connection stayed up throughout")
	g.Eventually(published).WithTimeout(15*time.Second).Should(Receive(Succeed()), "the message held back is sent once unblocked")
	msg, ok, err := ch.Get(queue, true)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
	g.Expect(msg.MessageId).To(Equal("while-blocked"))
}

func TestRedactURL(t *testing.T) {
	for url, want := range map[string]string{
		"amqp://guest:guest@127.0.0.1:5672/":    "amqp://guest:***@127.0.0.1:5672/",
		"amqps://svc:p@ss/w@rd@rabbit:5671/ops": "amqps://svc:***@rabbit:5671/ops",
		"amqp://guest@127.0.0.1/":               "amqp://guest@127.0.0.1/",
		"amqp://127.0.0.1/":                     "amqp://127.0.0.1/",
	} {
		if got := amqpconn.RedactURL(url); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", url, got, want)
		}
	}
}

// A malformed URL (here a password with an unencoded "@") makes the dial
// error quote the URL: the logged error must not carry the password.
func TestConnectionErrorsHideThePassword(t *testing.T) {
	g := NewWithT(t)
	lines := make(chan string, 100)
	log := funcr.New(func(prefix, args string) {
		select {
		case lines <- prefix + args:
		default:
		}
	}, funcr.Options{})
	b := amqpconn.New(amqpconn.Config{URL: "amqp://svc:s3cr@t@rabbit:badport/", MinReconnectDelay: time.Hour}, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Start(ctx) }()
	defer func() { cancel(); <-done }()

	var line string
	g.Eventually(lines).Should(Receive(&line))
	g.Expect(line).To(ContainSubstring("Broker connection failed"))
	g.Expect(line).To(ContainSubstring("svc:***@rabbit:badport"), "the error still says which URL")
	g.Expect(line).NotTo(ContainSubstring("s3cr"))
}
