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

// Package fakeoperator plays the operator's side of the participant
// protocol for the SDK's tests: it declares the topology of a prefix no
// other test uses, sends commands and reads the replies, on the local
// RabbitMQ (rabbittest).
package fakeoperator

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/internal/rabbittest"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Operator is a fake operator: a command exchange and a reply queue of
// its own.
type Operator struct {
	// Exchange is the command exchange, as participant.Options names it.
	Exchange string
	// Replies is the queue that replies go to.
	Replies string
	conn    *amqp.Connection
	ch      *amqp.Channel
	queues  []string
}

// New declares a fake operator's topology; the test's end deletes it.
func New(t *testing.T) *Operator {
	t.Helper()
	prefix := rabbittest.Name("sdk")
	o := &Operator{Exchange: prefix + ".commands", Replies: prefix + ".replies"}
	conn, err := amqp.Dial(rabbittest.BrokerURL())
	if err != nil {
		t.Fatalf("connect to RabbitMQ: %v", err)
	}
	o.conn = conn
	t.Cleanup(o.cleanUp)
	if o.ch, err = conn.Channel(); err == nil {
		err = o.ch.Confirm(false)
	}
	if err == nil {
		err = o.ch.ExchangeDeclare(o.Exchange, amqp.ExchangeTopic, true, false, false, false, nil)
	}
	if err == nil {
		_, err = o.ch.QueueDeclare(o.Replies, true, false, false, false, nil)
	}
	if err != nil {
		t.Fatalf("declare the fake operator's topology: %v", err)
	}
	return o
}

func (o *Operator) cleanUp() {
	if ch, err := o.conn.Channel(); err == nil {
		for _, q := range append(o.queues, o.Replies) {
			_, _ = ch.QueueDelete(q, false, false, false)
		}
		_ = ch.ExchangeDelete(o.Exchange, false, false)
	}
	_ = o.conn.Close()
}

// DeclareQueue declares a service's queue (quorum, as participant.Options
// default names it) bound to each of its command and compensation names,
// as the operator does for a registered participant, and returns its name.
func (o *Operator) DeclareQueue(t *testing.T, service string, names ...string) string {
	t.Helper()
	queue := o.Exchange + "." + service
	o.queues = append(o.queues, queue)
	_, err := o.ch.QueueDeclare(queue, true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum})
	for _, name := range names {
		if err == nil {
			err = o.ch.QueueBind(queue, service+"."+name, o.Exchange, false, nil)
		}
	}
	if err != nil {
		t.Fatalf("declare queue %s: %v", queue, err)
	}
	return queue
}

// Command is a command or compensation to send.
type Command struct {
	// ID is the message id.
	ID      string
	Service string
	Name    string
	SagaUID string
	Step    string
	Kind    protocol.Kind // default command
	Attempt int32         // default 1
	// Key is the idempotency key; default the protocol's, of round 0.
	Key string
	// Deadline is the command's; default a minute from now.
	Deadline time.Time
}

// Send publishes a command and waits for the broker's confirm.
func (o *Operator) Send(c Command) error {
	if c.Kind == "" {
		c.Kind = protocol.KindCommand
	}
	if c.Attempt == 0 {
		c.Attempt = 1
	}
	if c.Key == "" {
		c.Key = protocol.IdempotencyKey(c.SagaUID, c.Step, c.Kind, 0)
	}
	if c.Deadline.IsZero() {
		c.Deadline = time.Now().Add(time.Minute)
	}
	saga := protocol.SagaRef{Namespace: "shop", Name: "order-" + c.SagaUID, UID: c.SagaUID}
	h := protocol.Headers{SagaNamespace: saga.Namespace, SagaName: saga.Name, SagaUID: saga.UID, Step: c.Step,
		Kind: c.Kind, Attempt: c.Attempt, Deadline: c.Deadline}
	body, err := json.Marshal(protocol.Command{MessageID: c.ID, Saga: saga, Step: c.Step, Kind: c.Kind, Name: c.Name,
		Attempt: c.Attempt, IdempotencyKey: c.Key, Deadline: c.Deadline})
	if err != nil {
		return err
	}
	confirm, err := o.ch.PublishWithDeferredConfirmWithContext(context.Background(), o.Exchange, c.Service+"."+c.Name, true, false,
		amqp.Publishing{MessageId: c.ID, ReplyTo: o.Replies, Type: protocol.CommandType, ContentType: protocol.ContentType,
			Headers: h.Table(), Body: body, DeliveryMode: amqp.Persistent})
	if err != nil {
		return fmt.Errorf("publish %s: %w", c.ID, err)
	}
	if !confirm.Wait() {
		return fmt.Errorf("publish %s: nacked by the broker", c.ID)
	}
	return nil
}

// Reply is a reply received.
type Reply struct {
	CorrelationID string
	protocol.Reply
}

// Collect returns the replies that arrived since the last call.
func (o *Operator) Collect() ([]Reply, error) {
	var out []Reply
	for {
		d, ok, err := o.ch.Get(o.Replies, true)
		if err != nil || !ok {
			return out, err
		}
		r, err := protocol.DecodeReply(d.ContentType, d.Body)
		if err != nil {
			return out, fmt.Errorf("reply to %s: %w", d.CorrelationId, err)
		}
		out = append(out, Reply{CorrelationID: d.CorrelationId, Reply: r})
	}
}

// DeleteReplies deletes the reply queue: replies to it are unroutable.
func (o *Operator) DeleteReplies() error {
	_, err := o.ch.QueueDelete(o.Replies, false, false, false)
	return err
}

// DeclareReplies declares the reply queue again.
func (o *Operator) DeclareReplies() error {
	_, err := o.ch.QueueDeclare(o.Replies, true, false, false, false, nil)
	return err
}

// Ready returns the number of messages ready in a service's queue.
func (o *Operator) Ready(queue string) (int, error) {
	q, err := o.ch.QueueDeclarePassive(queue, true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum})
	return q.Messages, err
}
