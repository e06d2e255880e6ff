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

package samples

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// OrderService is the sample order service of docs/events.md, written with
// nothing but an AMQP client and the protocol's bodies, as a service in any
// language would be: it starts sagas with start messages, asks about them
// with queries, and prints every lifecycle event of its namespace, one line
// each.
type OrderService struct {
	prefix, namespace string
	conn              *amqp.Connection
	ch                *amqp.Channel
	replyTo           string
	out               io.Writer

	mu      sync.Mutex
	waiting map[string]chan amqp.Delivery // correlation id → its reply
}

// StartOrderService connects to the broker of the operator whose topology
// starts with prefix, for sagas in namespace, and prints events to out.
func StartOrderService(url, prefix, namespace string, out io.Writer) (*OrderService, error) {
	conn, err := amqp.Dial(url)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s := &OrderService{prefix: prefix, namespace: namespace, conn: conn, out: out, waiting: map[string]chan amqp.Delivery{}}
	if err := s.setUp(); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

// setUp declares the service's two server-named exclusive queues, one for
// replies and one bound to the event exchange with "<namespace>.#", and
// consumes them.
func (s *OrderService) setUp() error {
	var err error
	if s.ch, err = s.conn.Channel(); err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	replies, err := s.consumeNew()
	if err != nil {
		return err
	}
	// Declared here too (durable topic, as the operator declares it), so
	// that the binding works whichever of the two starts first.
	exchange := protocol.EventExchange(s.prefix)
	if err := s.ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", exchange, err)
	}
	events, err := s.consumeNew()
	if err != nil {
		return err
	}
	if err := s.ch.QueueBind(events.name, s.namespace+".#", exchange, false, nil); err != nil {
		return fmt.Errorf("bind to %s: %w", exchange, err)
	}
	s.replyTo = replies.name
	go s.routeReplies(replies.deliveries)
	go s.printEvents(events.deliveries)
	return nil
}

type consumed struct {
	name       string
	deliveries <-chan amqp.Delivery
}

func (s *OrderService) consumeNew() (consumed, error) {
	q, err := s.ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		return consumed{}, fmt.Errorf("declare queue: %w", err)
	}
	d, err := s.ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		return consumed{}, fmt.Errorf("consume %s: %w", q.Name, err)
	}
	return consumed{name: q.Name, deliveries: d}, nil
}

func (s *OrderService) routeReplies(deliveries <-chan amqp.Delivery) {
	for d := range deliveries {
		s.mu.Lock()
		if w, ok := s.waiting[d.CorrelationId]; ok {
			w <- d
			delete(s.waiting, d.CorrelationId)
		}
		s.mu.Unlock()
	}
}

// printEvents prints each lifecycle event as one line. A consumer dedupes
// by message id (events are delivered at least once); this one only prints.
func (s *OrderService) printEvents(deliveries <-chan amqp.Delivery) {
	for d := range deliveries {
		var e protocol.Event
		if err := json.Unmarshal(d.Body, &e); err != nil {
			_, _ = fmt.Fprintf(s.out, "    event (undecodable, %s): %v\n", d.RoutingKey, err)
			continue
		}
		_, _ = fmt.Fprintf(s.out, "    event  %-19s %s/%s order=%s step=%s reason=%s phase=%s\n",
			e.Type, e.Saga.Namespace, e.Saga.Name, e.OrderID, e.Step, e.Reason, e.Phase)
	}
}

// ask publishes body to queue with a new correlation id and waits for the
// reply.
func (s *OrderService) ask(ctx context.Context, queue, typ string, body, reply any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	id := rand.Text()
	w := make(chan amqp.Delivery, 1)
	s.mu.Lock()
	s.waiting[id] = w
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiting, id)
		s.mu.Unlock()
	}()
	// mandatory: a start queue nobody declared (bus starts off) comes back
	// as a return, and the wait below ends on ctx.
	if err := s.ch.PublishWithContext(ctx, "", queue, true, false, amqp.Publishing{
		MessageId: id, CorrelationId: id, ReplyTo: s.replyTo, Type: typ,
		ContentType: protocol.ContentType, DeliveryMode: amqp.Persistent, Body: raw,
	}); err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	select {
	case d := <-w:
		return json.Unmarshal(d.Body, reply)
	case <-ctx.Done():
		return fmt.Errorf("no reply from %s: %w", queue, ctx.Err())
	}
}

// Submit starts a saga from template for order and returns the reply.
func (s *OrderService) Submit(ctx context.Context, template string, order protocol.Order) (protocol.StartReply, error) {
	var r protocol.StartReply
	err := s.ask(ctx, protocol.StartQueue(s.prefix), protocol.StartType,
		protocol.StartRequest{Template: template, Namespace: s.namespace, Order: order}, &r)
	return r, err
}

// Query asks for the saga of orderID in the service's namespace.
func (s *OrderService) Query(ctx context.Context, orderID string) (protocol.QueryReply, error) {
	var r protocol.QueryReply
	err := s.ask(ctx, protocol.QueryQueue(s.prefix), protocol.QueryType,
		protocol.QueryRequest{Namespace: s.namespace, OrderID: orderID}, &r)
	return r, err
}

// FailureError turns a failure reply into an error.
func FailureError(f *protocol.Failure) error {
	if f == nil {
		return nil
	}
	return errors.New(f.Reason + ": " + f.Message)
}

// Close disconnects.
func (s *OrderService) Close() error { return s.conn.Close() }
