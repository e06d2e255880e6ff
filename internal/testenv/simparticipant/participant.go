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

// Package simparticipant simulates participant services over AMQP, for the
// integration suites: each records the commands it receives and answers as
// the test says, through the real broker.
package simparticipant

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	neturl "net/url"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Received is a command as a test participant received it.
type Received struct {
	Command  protocol.Command
	Delivery amqp.Delivery
	At       time.Time
}

// Behaviour decides a test participant's answer to a command: a reply, or
// nil to stay silent.
type Behaviour func(cmd protocol.Command) *protocol.Reply

// Succeed always replies success.
func Succeed(protocol.Command) *protocol.Reply {
	return &protocol.Reply{Status: protocol.StatusSucceeded}
}

// Participant is a participant simulated over AMQP: it consumes the
// commands of one service from its own queue, records them, and replies as
// its Behaviour says. It talks to the real broker, as a service would, and
// reconnects when its connection is closed.
type Participant struct {
	Service string
	Queue   string

	url, exchange string
	user          string
	stop          chan struct{}
	stopped       chan struct{}

	mu        sync.Mutex
	conn      *amqp.Connection
	behaviour Behaviour
	received  []Received
}

// Start starts answering the commands of the service's queue, which the
// operator declares and binds once a Participant registers the service:
// register it, and wait for its status to name the queue, first. Its replies carry the broker user of url as user_id, as the
// SDK's do.
func Start(url, commandExchange, service string, behaviour Behaviour) (*Participant, error) {
	user := "guest" // amqp091-go's default when the URL names no user
	if u, err := neturl.Parse(url); err == nil && u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	p := &Participant{Service: service, Queue: commandExchange + "." + service, url: url, exchange: commandExchange,
		user: user, behaviour: behaviour, stop: make(chan struct{}), stopped: make(chan struct{})}
	ch, deliveries, err := p.connect()
	if err != nil {
		return nil, err
	}
	go p.run(ch, deliveries)
	return p, nil
}

func (p *Participant) connect() (*amqp.Channel, <-chan amqp.Delivery, error) {
	conn, err := amqp.Dial(p.url)
	if err != nil {
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	fail := func(what string, err error) (*amqp.Channel, <-chan amqp.Delivery, error) {
		_ = conn.Close()
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	ch, err := conn.Channel()
	if err != nil {
		return fail("open channel", err)
	}
	// The operator declares and binds the queue once a Participant
	// registers the service: check that it is there, as the SDK does.
	if _, err := ch.QueueDeclarePassive(p.Queue, true, false, false, false, nil); err != nil {
		return fail("queue of a registered participant", err)
	}
	deliveries, err := ch.Consume(p.Queue, "", false, false, false, false, nil)
	if err != nil {
		return fail("consume", err)
	}
	p.mu.Lock()
	p.conn = conn
	p.mu.Unlock()
	return ch, deliveries, nil
}

func (p *Participant) run(ch *amqp.Channel, deliveries <-chan amqp.Delivery) {
	defer close(p.stopped)
	for {
		p.serve(ch, deliveries)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			var err error
			if ch, deliveries, err = p.connect(); err == nil {
				break
			}
		}
	}
}

// SetBehaviour changes how the participant answers from now on.
func (p *Participant) SetBehaviour(b Behaviour) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.behaviour = b
}

// Received returns the commands received so far, in order.
func (p *Participant) Received() []Received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Received(nil), p.received...)
}

// Stop closes the participant's connection and deletes its queue.
func (p *Participant) Stop() {
	close(p.stop)
	p.mu.Lock()
	conn := p.conn
	p.mu.Unlock()
	if ch, err := conn.Channel(); err == nil {
		_, _ = ch.QueueDelete(p.Queue, false, false, false)
	}
	_ = conn.Close()
	<-p.stopped
}

func (p *Participant) serve(ch *amqp.Channel, deliveries <-chan amqp.Delivery) {
	for d := range deliveries {
		var cmd protocol.Command
		_ = json.Unmarshal(d.Body, &cmd)
		p.mu.Lock()
		p.received = append(p.received, Received{Command: cmd, Delivery: d, At: time.Now()})
		behaviour := p.behaviour
		p.mu.Unlock()
		if reply := behaviour(cmd); reply != nil {
			_ = Reply(ch, d, p.user, *reply)
		}
		_ = d.Ack(false)
	}
}

// Reply sends reply to the command d, as docs/protocol.md says: to its
// reply_to queue, correlated with its message id, with its saga headers,
// as broker user user (RabbitMQ checks it is the connection's).
func Reply(ch *amqp.Channel, d amqp.Delivery, user string, reply protocol.Reply) error {
	body, err := json.Marshal(reply)
	if err != nil {
		return err
	}
	headers := maps.Clone(d.Headers)
	return ch.PublishWithContext(context.Background(), "", d.ReplyTo, false, false, amqp.Publishing{
		MessageId:     d.MessageId + "-reply",
		UserId:        user,
		CorrelationId: d.MessageId,
		Type:          protocol.ReplyType,
		ContentType:   protocol.ContentType,
		Headers:       headers,
		Body:          body,
		DeliveryMode:  amqp.Persistent,
		Timestamp:     time.Now(),
	})
}
