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

package broker

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// The operator's edges for order services (docs/events.md): the start
// queue, declared only when the operator starts sagas from the bus
// (Topology.Starts), and the query queue. Each dead-letters to a queue of its
// own: the operator's refusals, and what the broker gives up on after
// DefaultRequestDeliveryLimit deliveries (a message that keeps crashing the
// operator).

// DefaultRequestDeliveryLimit is how often a start message or query is
// delivered before the broker dead-letters it. A delivery counts only when
// the operator stops (or crashes) holding it: a transient failure is
// retried in place.
const DefaultRequestDeliveryLimit = 20

// StartQueue is the queue start messages are sent to: the shard's own when
// sharded (Topology.Shard), as are the query queue and the dead-letter
// pairs of both.
func (t Topology) StartQueue() string { return t.sharded(protocol.StartQueue(t.Prefix)) }

// StartDeadLetterExchange receives the refused start messages.
func (t Topology) StartDeadLetterExchange() string { return t.sharded(t.Prefix + ".start-dead-letter") }

// StartDeadLetterQueue holds the refused start messages.
func (t Topology) StartDeadLetterQueue() string { return t.sharded(t.Prefix + ".start-dead") }

// QueryQueue is the queue queries are sent to.
func (t Topology) QueryQueue() string { return t.sharded(protocol.QueryQueue(t.Prefix)) }

// QueryDeadLetterExchange receives the queries that cannot be answered.
func (t Topology) QueryDeadLetterExchange() string {
	return t.sharded(t.Prefix + ".queries-dead-letter")
}

// QueryDeadLetterQueue holds the queries that cannot be answered.
func (t Topology) QueryDeadLetterQueue() string { return t.sharded(t.Prefix + ".queries-dead") }

// declareBus declares the query queue and, with Starts, the start queue,
// each with its dead-letter exchange and queue.
func (t Topology) declareBus(ch *amqp.Channel) error {
	if t.Starts {
		if err := declareWithDeadLetters(ch, t.StartQueue(), t.StartDeadLetterExchange(), t.StartDeadLetterQueue()); err != nil {
			return err
		}
	}
	return declareWithDeadLetters(ch, t.QueryQueue(), t.QueryDeadLetterExchange(), t.QueryDeadLetterQueue())
}

func declareWithDeadLetters(ch *amqp.Channel, queue, dlx, dlq string) error {
	if err := declareDeadLetter(ch, dlx, dlq); err != nil {
		return err
	}
	args := amqp.Table{
		amqp.QueueTypeArg:     amqp.QueueTypeQuorum,
		argDeadLetterExchange: dlx,
		argDeliveryLimit:      int64(DefaultRequestDeliveryLimit),
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, args); err != nil {
		return fmt.Errorf("declare queue %s: %w", queue, err)
	}
	return nil
}

// deleteBus deletes what declareBus declares (all of it, Starts or not).
func (t Topology) deleteBus(ch *amqp.Channel) error {
	for _, q := range []string{t.StartQueue(), t.StartDeadLetterQueue(), t.QueryQueue(), t.QueryDeadLetterQueue()} {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			return fmt.Errorf("delete queue %s: %w", q, err)
		}
	}
	for _, x := range []string{t.StartDeadLetterExchange(), t.QueryDeadLetterExchange()} {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			return fmt.Errorf("delete exchange %s: %w", x, err)
		}
	}
	return nil
}

// declareDeadLetter declares a fanout dead-letter exchange and the quorum
// queue that keeps what it receives, for people to inspect.
func declareDeadLetter(ch *amqp.Channel, dlx, dlq string) error {
	if err := ch.ExchangeDeclare(dlx, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", dlx, err)
	}
	quorum := amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
	if _, err := ch.QueueDeclare(dlq, true, false, false, false, quorum); err != nil {
		return fmt.Errorf("declare queue %s: %w", dlq, err)
	}
	if err := ch.QueueBind(dlq, "", dlx, false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", dlq, err)
	}
	return nil
}
