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

package participant_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/uuid"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/internal/rabbittest"
	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// These tests run against the real RabbitMQ that "make test" ensures. The
// test plays the operator: it publishes commands and reads the replies.

var brokerURL = rabbittest.BrokerURL

type fakeOperator struct {
	t        *testing.T
	exchange string
	replies  string
	conn     *amqp.Connection
	ch       *amqp.Channel
	uid      string
	// userID is the user_id its commands carry: none unless a test sets it.
	userID string
}

func newFakeOperator(t *testing.T) *fakeOperator {
	t.Helper()
	return newFakeOperatorWith(t, nil)
}

// newFakeOperatorWith is a fake operator that has registered the inventory
// service: it declared the command exchange and the service's queue, with
// the operator's queue arguments plus args, bound to every inventory
// command.
func newFakeOperatorWith(t *testing.T, args amqp.Table) *fakeOperator {
	t.Helper()
	g := NewWithT(t)
	o := newFakeOperatorWithoutExchange(t, rabbittest.Name("sdk"))
	g.Expect(o.ch.ExchangeDeclare(o.exchange, amqp.ExchangeTopic, true, false, false, false, nil)).To(Succeed())
	o.register(g, args)
	return o
}

// register declares the inventory service's queue and binds it, as the
// operator does for a Participant.
func (o *fakeOperator) register(g Gomega, args amqp.Table) {
	queueArgs := amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
	maps.Copy(queueArgs, args)
	_, err := o.ch.QueueDeclare(o.exchange+".inventory", true, false, false, false, queueArgs)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(o.ch.QueueBind(o.exchange+".inventory", "inventory.*", o.exchange, false, nil)).To(Succeed())
}

// newFakeOperatorWithoutExchange is a fake operator of topology prefix
// prefix that has declared neither its command exchange nor the service's
// queue yet.
func newFakeOperatorWithoutExchange(t *testing.T, prefix string) *fakeOperator {
	t.Helper()
	g := NewWithT(t)
	conn, err := amqp.Dial(brokerURL())
	g.Expect(err).NotTo(HaveOccurred())
	ch, err := conn.Channel()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ch.Confirm(false)).To(Succeed())
	o := &fakeOperator{t: t, exchange: prefix + ".commands", replies: prefix + ".replies", conn: conn, ch: ch, uid: uuid.NewString()}
	_, err = ch.QueueDeclare(o.replies, true, false, false, false, nil)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		// A fresh connection: the test may have restarted the broker.
		if c, err := amqp.Dial(brokerURL()); err == nil {
			if cc, err := c.Channel(); err == nil {
				_, _ = cc.QueueDelete(o.replies, false, false, false)
				_, _ = cc.QueueDelete(o.exchange+".inventory", false, false, false)
				_ = cc.ExchangeDelete(o.exchange, false, false)
			}
			_ = c.Close()
		}
		_ = conn.Close()
	})
	return o
}

// send publishes a command for step of the fake saga, with message id id.
func (o *fakeOperator) send(ch *amqp.Channel, id, step string, kind protocol.Kind, name string, attempt int32) error {
	return o.sendUntil(ch, id, step, kind, name, attempt, time.Now().Add(time.Minute))
}

// sendUntil is send with the deadline the command carries.
func (o *fakeOperator) sendUntil(ch *amqp.Channel, id, step string, kind protocol.Kind, name string, attempt int32, deadline time.Time) error {
	h := protocol.Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: o.uid, Step: step, Kind: kind,
		Attempt: attempt, Deadline: deadline}
	body, _ := json.Marshal(protocol.Command{MessageID: id, Saga: protocol.SagaRef{Namespace: "shop", Name: "order-1", UID: o.uid},
		Step: step, Kind: kind, Name: name, Attempt: attempt, IdempotencyKey: protocol.IdempotencyKey(o.uid, step, kind, 0),
		Deadline: h.Deadline})
	return ch.PublishWithContext(context.Background(), o.exchange, "inventory."+name, true, false, amqp.Publishing{
		MessageId: id, ReplyTo: o.replies, Type: protocol.CommandType, ContentType: protocol.ContentType, UserId: o.userID,
		Headers: h.Table(), Body: body, DeliveryMode: amqp.Persistent,
	})
}

type gotReply struct {
	UserID        string
	CorrelationID string
	Reply         protocol.Reply
	Headers       amqp.Table
}

// replies returns the replies received so far (consuming them).
func (o *fakeOperator) collect(ch *amqp.Channel) []gotReply {
	var out []gotReply
	for {
		d, ok, err := ch.Get(o.replies, true)
		if err != nil || !ok {
			return out
		}
		var r protocol.Reply
		_ = json.Unmarshal(d.Body, &r)
		out = append(out, gotReply{UserID: d.UserId, CorrelationID: d.CorrelationId, Reply: r, Headers: d.Headers})
	}
}

// awaitTwoReplies waits for two replies and returns them in arrival order.
func (o *fakeOperator) awaitTwoReplies(g *WithT) []gotReply {
	var got []gotReply
	g.Eventually(func() int { got = append(got, o.collect(o.ch)...); return len(got) }).Should(Equal(2))
	return got
}

// startParticipant runs an inventory participant until the test ends.
func startParticipant(t *testing.T, o *fakeOperator, setup func(*participant.Participant)) (stop func()) {
	t.Helper()
	return startParticipantWith(t, participant.Options{CommandExchange: o.exchange}, setup)
}

// startParticipantWith runs an inventory participant with opts until the
// test ends.
func startParticipantWith(t *testing.T, opts participant.Options, setup func(*participant.Participant)) (stop func()) {
	t.Helper()
	opts.URL, opts.Service, opts.Concurrency, opts.Log = brokerURL(), "inventory", 2, testr.New(t)
	p, err := participant.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	setup(p)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	NewWithT(t).Eventually(p.Ready).WithTimeout(10 * time.Second).Should(BeTrue())
	return stop
}

func TestRedeliveredCommandIsHandledOnceAndAnsweredTwice(t *testing.T) {
	g := NewWithT(t)
	o := newFakeOperator(t)
	var calls atomic.Int32
	startParticipant(t, o, func(p *participant.Participant) {
		p.Handle("ReserveInventory", func(context.Context, *participant.Command) (participant.Result, error) {
			calls.Add(1)
			return participant.Result{"reservationId": "res-1"}, nil
		})
	})
	g.Expect(o.send(o.ch, "m-1", "reserve", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	g.Expect(o.send(o.ch, "m-1", "reserve", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())

	got := o.awaitTwoReplies(g)
	g.Expect(calls.Load()).To(BeEquivalentTo(1))
	for _, r := range got {
		g.Expect(r.CorrelationID).To(Equal("m-1"))
		g.Expect(r.UserID).To(Equal("guest"), "the broker-validated user of the participant")
		g.Expect(r.Reply.Status).To(Equal(protocol.StatusSucceeded))
		g.Expect(r.Reply.Result).To(HaveKeyWithValue("reservationId", protocol.String("res-1")))
		g.Expect(r.Headers).To(HaveKeyWithValue(protocol.HeaderSagaUID, o.uid))
		g.Expect(r.Headers).To(HaveKeyWithValue(protocol.HeaderStep, "reserve"))
	}
}

func TestRetriedAttemptReplaysTheOutcomeOfItsKey(t *testing.T) {
	g := NewWithT(t)
	o := newFakeOperator(t)
	var calls atomic.Int32
	startParticipant(t, o, func(p *participant.Participant) {
		p.Handle("ReserveInventory", func(context.Context, *participant.Command) (participant.Result, error) {
			calls.Add(1)
			return participant.Result{"reservationId": "res-1"}, nil
		})
	})
	g.Expect(o.send(o.ch, "m-1", "reserve", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	g.Expect(o.send(o.ch, "m-2", "reserve", protocol.KindCommand, "ReserveInventory", 2)).To(Succeed())
	got := o.awaitTwoReplies(g)
	g.Expect(calls.Load()).To(BeEquivalentTo(1), "attempt 2 has the same idempotency key")
	g.Expect(got[1].Reply.Result).To(HaveKeyWithValue("reservationId", protocol.String("res-1")))
}

func TestReplyIsSentBeforeTheCommandIsAcknowledged(t *testing.T) {
	g := NewWithT(t)
	o := newFakeOperator(t)
	var calls atomic.Int32
	stop := startParticipant(t, o, func(p *participant.Participant) {
		p.Handle("ReserveInventory", func(context.Context, *participant.Command) (participant.Result, error) {
			calls.Add(1)
			return nil, nil
		})
	})
	// No reply queue: the reply is unroutable, so the command must stay
	// unacknowledged (and come back) until the reply can be delivered.
	_, err := o.ch.QueueDelete(o.replies, false, false, false)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(o.send(o.ch, "m-1", "reserve", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	g.Eventually(calls.Load).Should(BeEquivalentTo(1))

	// Stopped while its reply cannot be delivered, the participant has not
	// acknowledged the command: it is back in the queue.
	stop()
	queue := o.exchange + ".inventory"
	g.Eventually(func() int {
		q, err := o.ch.QueueDeclarePassive(queue, true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum})
		g.Expect(err).NotTo(HaveOccurred())
		return q.Messages
	}).Should(Equal(1), "the command is not acknowledged while its reply cannot be delivered")

	// Once the reply can go, a participant answers it.
	_, err = o.ch.QueueDeclare(o.replies, true, false, false, false, nil)
	g.Expect(err).NotTo(HaveOccurred())
	startParticipant(t, o, func(p *participant.Participant) {
		p.Handle("ReserveInventory", func(context.Context, *participant.Command) (participant.Result, error) {
			calls.Add(1)
			return nil, nil
		})
	})
	g.Eventually(func() []gotReply { return o.collect(o.ch) }).Should(ContainElement(HaveField("CorrelationID", "m-1")))
}

func TestHandlerPanicBecomesAFailureReply(t *testing.T) {
	g := NewWithT(t)
	o := newFakeOperator(t)
	startParticipant(t, o, func(p *participant.Participant) {
		p.Handle("ReserveInventory", func(_ context.Context, cmd *participant.Command) (participant.Result, error) {
			if cmd.Attempt == 1 {
				panic("stock table corrupt")
			}
			return nil, nil
		})
		p.Compensate("ReleaseInventory", func(context.Context, *participant.Command) (participant.Result, error) {
			return nil, participant.Retry("Warehouse offline", "try later") // a reason with a space is cleaned
		})
	})
	g.Expect(o.send(o.ch, "m-1", "reserve", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	g.Expect(o.send(o.ch, "m-2", "other", protocol.KindCompensation, "ReleaseInventory", 1)).To(Succeed())
	got := o.awaitTwoReplies(g)
	byID := map[string]protocol.Reply{got[0].CorrelationID: got[0].Reply, got[1].CorrelationID: got[1].Reply}
	g.Expect(byID["m-1"]).To(And(HaveField("Status", protocol.StatusFailed), HaveField("Reason", participant.ReasonHandlerPanic),
		HaveField("Message", ContainSubstring("stock table corrupt"))))
	g.Expect(byID["m-2"]).To(And(HaveField("Status", protocol.StatusRetryable), HaveField("Reason", "WarehouseOffline")))
}

func TestCommandArrivingAfterItsCompensationIsRefused(t *testing.T) {
	g := NewWithT(t)
	o := newFakeOperator(t)
	var reserved atomic.Int32
	startParticipant(t, o, func(p *participant.Participant) {
		p.Handle("ReserveInventory", func(context.Context, *participant.Command) (participant.Result, error) {
			reserved.Add(1)
			return nil, nil
		})
		p.Compensate("ReleaseInventory", func(context.Context, *participant.Command) (participant.Result, error) {
			return nil, nil // nothing to undo is success
		})
	})
	g.Expect(o.send(o.ch, "c-1", "reserve", protocol.KindCompensation, "ReleaseInventory", 1)).To(Succeed())
	g.Expect(o.send(o.ch, "m-1", "reserve", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	got := o.awaitTwoReplies(g)
	g.Expect(got[1].CorrelationID).To(Equal("m-1"))
	g.Expect(got[1].Reply).To(And(HaveField("Status", protocol.StatusFailed), HaveField("Reason", participant.ReasonAlreadyCompensated)))
	g.Expect(reserved.Load()).To(BeZero())
}

func TestGracefulShutdownFinishesInFlightWorkAndReturnsTheRest(t *testing.T) {
	g := NewWithT(t)
	o := newFakeOperator(t)
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	var calls atomic.Int32
	stop := startParticipant(t, o, func(p *participant.Participant) {
		p.Handle("ReserveInventory", func(context.Context, *participant.Command) (participant.Result, error) {
			calls.Add(1)
			started <- struct{}{}
			<-release
			return nil, nil
		})
	})
	// One saga: its commands are handled one at a time, so one is in flight
	// and the others wait.
	for i := range 4 {
		g.Expect(o.send(o.ch, fmt.Sprintf("m-%d", i), fmt.Sprintf("step-%d", i), protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	}
	g.Eventually(started).Should(Receive())
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	g.Consistently(stopped, 300*time.Millisecond).ShouldNot(BeClosed(), "shutdown waits for the handler in flight")
	close(release)
	g.Eventually(stopped).Should(BeClosed())

	got := o.collect(o.ch)
	g.Expect(got).To(HaveLen(1), "the handler in flight replied")
	g.Expect(calls.Load()).To(BeEquivalentTo(1), "no command was started after shutdown began")
	g.Eventually(func() int {
		q, err := o.ch.QueueDeclarePassive(o.exchange+".inventory", true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum})
		g.Expect(err).NotTo(HaveOccurred())
		return q.Messages
	}).Should(Equal(3), "the commands not started went back to the queue")
}

// A broker restart in the middle of a stream of commands: every command
// gets a reply, and every idempotency key takes effect once.
func TestBrokerRestartInTheMiddleOfAStream(t *testing.T) {
	g := NewWithT(t)
	o := newFakeOperator(t)
	var mu sync.Mutex
	effects := map[string]int{}
	// Handlers started before the restart finish only after it, so that the
	// restart surely finds commands in flight: their acknowledgements go to a
	// closed channel and the broker redelivers them.
	started, restarted := make(chan struct{}, 1000), make(chan struct{})
	startParticipant(t, o, func(p *participant.Participant) {
		p.Handle("ReserveInventory", func(_ context.Context, cmd *participant.Command) (participant.Result, error) {
			started <- struct{}{}
			<-restarted
			mu.Lock()
			defer mu.Unlock()
			effects[cmd.IdempotencyKey]++
			return nil, nil
		})
	})

	const n = 60
	sent := map[string]bool{}
	publish := func(i int) {
		id := fmt.Sprintf("m-%d", i)
		g.Eventually(func() error {
			ch, err := reconnect(o)
			if err != nil {
				return err
			}
			if err := o.send(ch, id, fmt.Sprintf("step-%d", i), protocol.KindCommand, "ReserveInventory", 1); err != nil {
				return err
			}
			return nil
		}).WithTimeout(60 * time.Second).Should(Succeed())
		sent[id] = true
	}
	for i := range n / 2 {
		publish(i)
	}
	g.Eventually(started).Should(Receive(), "a command is being handled")
	_, err := rabbittest.Rabbitmqctl("stop_app")
	g.Expect(err).NotTo(HaveOccurred())
	_, err = rabbittest.Rabbitmqctl("start_app")
	g.Expect(err).NotTo(HaveOccurred())
	close(restarted)
	for i := n / 2; i < n; i++ {
		publish(i)
	}

	answered := map[string]bool{}
	g.Eventually(func() int {
		ch, err := reconnect(o)
		if err != nil {
			return len(answered)
		}
		for _, r := range o.collect(ch) {
			answered[r.CorrelationID] = true
		}
		return len(answered)
	}).WithTimeout(90 * time.Second).Should(Equal(n))
	mu.Lock()
	defer mu.Unlock()
	g.Expect(effects).To(HaveLen(n))
	for key, count := range effects {
		g.Expect(count).To(Equal(1), "key %s took effect %d times", key, count)
	}
}

// reconnect returns a working channel for the fake operator, dialling again
// after a broker restart.
func reconnect(o *fakeOperator) (*amqp.Channel, error) {
	if !o.conn.IsClosed() && !o.ch.IsClosed() {
		return o.ch, nil
	}
	conn, err := amqp.Dial(brokerURL())
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = conn.Close()
		return nil, err
	}
	o.conn, o.ch = conn, ch
	return ch, nil
}
