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

// Package permissions_test checks that the broker permissions
// docs/security.md gives the operator and a participant are enough for what
// each does, and no more: the operator declares its topology and a
// registered participant's queue and bindings, publishes commands, consumes
// replies and dead-letters one; the participant takes the command from its
// queue and replies, and can neither change the topology, nor publish a
// command, nor reply as another user. It runs against the real RabbitMQ, in a
// virtual host of its own with users of its own, all removed afterwards.
package permissions_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// The permissions of docs/security.md (configure, write, read), for the
// default topology prefix "ordersaga" and the service "payment".
var (
	operatorPermissions = []string{
		`^ordersaga\.(commands(\..+)?|commands-dead(-letter)?|dead-letter|events|replies(\.dead)?|start(-dead(-letter)?)?|queries(-dead(-letter)?)?)$`,
		`^(ordersaga\.(commands(\..+)?|commands-dead(-letter)?|dead-letter|events|replies\.dead|start-dead(-letter)?|queries-dead(-letter)?)|amq\.default)$`,
		`^ordersaga\.(commands(\..+)?|commands-dead-letter|dead-letter|replies|start(-dead-letter)?|queries(-dead-letter)?)$`,
	}
	paymentPermissions = []string{
		`^$`,
		`^amq\.default$`,
		`^ordersaga\.commands\.payment$`,
	}
)

func TestDocumentedPermissionsAreEnough(t *testing.T) {
	g := NewWithT(t)
	vhost := "permissions-" + rand.String(6)
	operatorUser, paymentUser := vhost+"-operator", vhost+"-payment"
	rabbitmqctl(t, "add_vhost", vhost)
	t.Cleanup(func() { _, _ = rabbitmq.Ctl("delete_vhost", vhost) })
	operatorURL := addUser(t, vhost, operatorUser, operatorPermissions)
	paymentURL := addUser(t, vhost, paymentUser, paymentPermissions)
	// The test looks at the dead-letter queue as guest.
	rabbitmqctl(t, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")

	// The operator: the same broker, topology and consumer as operator.Setup.
	topology := broker.Topology{Prefix: "ordersaga", Starts: true}
	op := broker.New(amqpconn.Config{URL: operatorURL, Topology: topology, MaxReconnectDelay: time.Second}, testr.New(t))
	replies := make(chan amqp.Delivery, 1)
	consumer := &amqpconn.Consumer{Conn: op.Conn, Queue: topology.ReplyQueue(), Tag: "operator", Log: testr.New(t),
		Handle: func(_ context.Context, d amqp.Delivery) { replies <- d }}
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	t.Cleanup(func() { cancel(); running.Wait() }) // before the users go: they log to t
	running.Go(func() { _ = op.Start(ctx) })
	running.Go(func() { _ = consumer.Start(ctx) })
	g.Eventually(op.Connected).WithTimeout(10*time.Second).Should(BeTrue(), "the operator declares its topology")
	_, err := op.EnsureParticipantQueue(ctx, topology, topology.ParticipantQueue("payment"), false,
		[]string{"payment.ChargePayment", "payment.RefundPayment"}, nil)
	g.Expect(err).NotTo(HaveOccurred(), "the operator declares and binds a registered participant's queue")

	// The participant, with the SDK's defaults for that prefix.
	p, err := participant.New(participant.Options{URL: paymentURL, Service: "payment", Log: testr.New(t)})
	g.Expect(err).NotTo(HaveOccurred())
	p.Handle("ChargePayment", func(context.Context, *participant.Command) (participant.Result, error) {
		return participant.Result{"paymentId": "p-1"}, nil
	})
	running.Go(func() { _ = p.Run(ctx) })
	g.Eventually(p.Ready).WithTimeout(10*time.Second).Should(BeTrue(), "the participant finds its queue and consumes it")

	const sagaUID = "0f8fad5b-d9cb-469f-a165-70867728950e" // participants refuse a uid the apiserver would not give
	headers := protocol.Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: sagaUID, Step: "charge",
		Kind: protocol.KindCommand, Attempt: 1, Deadline: time.Now().Add(time.Minute)}
	id := protocol.MessageID(sagaUID, "charge", protocol.KindCommand, 0, 1)
	body, err := json.Marshal(protocol.Command{MessageID: id, Saga: protocol.SagaRef{Namespace: "shop", Name: "order-1", UID: sagaUID},
		Step: "charge", Kind: protocol.KindCommand, Name: "ChargePayment", Attempt: 1,
		IdempotencyKey: protocol.IdempotencyKey(sagaUID, "charge", protocol.KindCommand, 0), Deadline: headers.Deadline})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(op.Publish(ctx, topology.CommandExchange(), "payment.ChargePayment", amqpconn.Message{
		MessageID: id, ReplyTo: topology.ReplyQueue(), Type: protocol.CommandType, ContentType: protocol.ContentType,
		Headers: headers.Table(), Body: body,
	})).To(Succeed(), "the operator publishes a command")

	var reply amqp.Delivery
	g.Eventually(replies).WithTimeout(10*time.Second).Should(Receive(&reply), "the participant replies; the operator consumes it")
	g.Expect(reply.CorrelationId).To(Equal(id))
	g.Expect(reply.UserId).To(Equal(paymentUser), "the broker accepted the user id the SDK stamps")

	g.Expect(op.DeadLetter(ctx, topology.DeadLetterExchange(), reply, protocol.RejectInvalid, "checking permissions")).
		To(Succeed(), "the operator dead-letters a reply")
	g.Expect(reply.Ack(false)).To(Succeed())
	conn, err := amqp.Dial(vhostURL(t, "guest", "guest", vhost))
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() (string, error) {
		d, _, err := ch.Get(topology.DeadLetterQueue(), true)
		return d.CorrelationId, err
	}).Should(Equal(id), "the dead-lettered reply reached the dead-letter queue")

	checkBusEdges(t, ctx, op, topology, ch, &running)

	// What the participant's user cannot do, each refused by the broker.
	refused := func(what string, do func(ch *amqp.Channel) error) {
		t.Helper()
		conn, err := amqp.Dial(paymentURL)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = conn.Close() }()
		ch, err := conn.Channel()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(ch.Confirm(false)).To(Succeed())
		closed := ch.NotifyClose(make(chan *amqp.Error, 1))
		err = do(ch)
		if err == nil {
			// A refused publish closes the channel asynchronously.
			select {
			case amqpErr := <-closed:
				err = amqpErr
			case <-time.After(5 * time.Second):
			}
		}
		g.Expect(err).To(HaveOccurred(), "the payment service's user can %s", what)
		var amqpErr *amqp.Error
		g.Expect(errors.As(err, &amqpErr)).To(BeTrue(), "%s: %v", what, err)
		g.Expect(amqpErr.Code).To(BeElementOf(amqp.AccessRefused, amqp.PreconditionFailed), "%s: %v", what, err)
	}
	refused("delete the command exchange", func(ch *amqp.Channel) error {
		return ch.ExchangeDelete(topology.CommandExchange(), false, false)
	})
	refused("delete its own queue", func(ch *amqp.Channel) error {
		_, err := ch.QueueDelete(topology.ParticipantQueue("payment"), false, false, false)
		return err
	})
	refused("bind another key to its queue", func(ch *amqp.Channel) error {
		return ch.QueueBind(topology.ParticipantQueue("payment"), "inventory.*", topology.CommandExchange(), false, nil)
	})
	refused("publish a command", func(ch *amqp.Channel) error {
		return ch.PublishWithContext(ctx, topology.CommandExchange(), "inventory.ReserveInventory", false, false,
			amqp.Publishing{MessageId: "forged-command", Body: []byte("{}")})
	})
	refused("reply as another user", func(ch *amqp.Channel) error {
		return ch.PublishWithContext(ctx, "", topology.ReplyQueue(), false, false,
			amqp.Publishing{MessageId: "forged-reply", UserId: operatorUser, Body: []byte("{}")})
	})
}

func rabbitmqctl(t *testing.T, args ...string) {
	t.Helper()
	if _, err := rabbitmq.Ctl(args...); err != nil {
		t.Fatal(err)
	}
}

// addUser adds a broker user with the given configure, write and read
// permissions on vhost, and returns its URL.
func addUser(t *testing.T, vhost, user string, permissions []string) string {
	t.Helper()
	password := rand.String(16)
	rabbitmqctl(t, "add_user", user, password)
	t.Cleanup(func() { _, _ = rabbitmq.Ctl("delete_user", user) })
	rabbitmqctl(t, append([]string{"set_permissions", "-p", vhost, user}, permissions...)...)
	return vhostURL(t, user, password, vhost)
}

// vhostURL is the test broker's URL with other credentials and vhost.
func vhostURL(t *testing.T, user, password, vhost string) string {
	t.Helper()
	u, err := url.Parse(rabbitmq.BrokerURL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	u.Path = "/" + vhost
	return u.String()
}

// checkBusEdges: under the documented permissions the operator consumes the
// start and query queues (declared with the topology), replies to an order
// service's reply_to through the default exchange and dead-letters a start
// message (docs/events.md). ch is guest's, in the same virtual host.
func checkBusEdges(t *testing.T, ctx context.Context, op *broker.Broker, topology broker.Topology, ch *amqp.Channel,
	running *sync.WaitGroup) {
	t.Helper()
	g := NewWithT(t)
	starts := make(chan amqp.Delivery, 1)
	for _, queue := range []string{topology.StartQueue(), topology.QueryQueue()} {
		c := &amqpconn.Consumer{Conn: op.Conn, Queue: queue, Log: testr.New(t), Handle: func(_ context.Context, d amqp.Delivery) {
			starts <- d
		}}
		running.Go(func() { _ = c.Start(ctx) })
		g.Eventually(c.Consuming).WithTimeout(10*time.Second).Should(BeTrue(), "the operator consumes %s", queue)
	}
	replyTo, err := ch.QueueDeclare("", false, true, true, false, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ch.PublishWithContext(ctx, "", topology.StartQueue(), false, false, amqp.Publishing{
		MessageId: "start-1", ReplyTo: replyTo.Name, Body: []byte("{}"),
	})).To(Succeed())
	var start amqp.Delivery
	g.Eventually(starts).WithTimeout(10 * time.Second).Should(Receive(&start))
	g.Expect(op.Publish(ctx, "", replyTo.Name, amqpconn.Message{MessageID: "reply-1", CorrelationID: "start-1", Body: []byte("{}")})).
		To(Succeed(), "the operator replies through the default exchange")
	g.Expect(op.DeadLetter(ctx, topology.StartDeadLetterExchange(), start, protocol.RefuseInvalid, "checking permissions")).
		To(Succeed(), "the operator dead-letters a start message")
	g.Eventually(func() (string, error) {
		d, _, err := ch.Get(replyTo.Name, true)
		return d.CorrelationId, err
	}).Should(Equal("start-1"), "the reply reached the order service")
	g.Eventually(func() (string, error) {
		d, _, err := ch.Get(topology.StartDeadLetterQueue(), true)
		return d.MessageId, err
	}).Should(Equal("start-1"), "the refused start message reached its dead-letter queue")
}
