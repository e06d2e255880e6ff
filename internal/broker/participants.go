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
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
)

// QueueState is what the broker says of a queue.
type QueueState struct {
	// Messages is how many messages wait in the queue, Consumers how many
	// consumers it has.
	Messages, Consumers int
}

// ErrQueueArguments means a participant's queue exists with arguments other
// than the operator's (declared by an older SDK, or by hand): the operator
// cannot take it over without losing its messages.
var ErrQueueArguments = errors.New("the queue exists with other arguments")

// EnsureParticipantQueue declares the command exchange and the participant
// queue with the operator's arguments, binds it with bind and unbinds it
// from unbind, and returns its state. Declaring again is harmless, so it
// also restores what someone deleted. It fails fast with
// amqpconn.ErrNotConnected while the broker is unavailable.
func (b *Broker) EnsureParticipantQueue(ctx context.Context, t Topology, queue string, singleActiveConsumer bool,
	bind, unbind []string) (QueueState, error) {
	if !b.Connected() {
		return QueueState{}, amqpconn.ErrNotConnected
	}
	conn, _, err := b.WaitConnection(ctx)
	if err != nil {
		return QueueState{}, fmt.Errorf("wait for the broker: %w", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		return QueueState{}, fmt.Errorf("open channel: %w", err)
	}
	defer func() { _ = ch.Close() }()
	if err := ch.ExchangeDeclare(t.CommandExchange(), amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return QueueState{}, fmt.Errorf("declare exchange %s: %w", t.CommandExchange(), err)
	}
	q, err := ch.QueueDeclare(queue, true, false, false, false, t.participantQueueArgs(singleActiveConsumer))
	if err != nil {
		var amqpErr *amqp.Error
		if errors.As(err, &amqpErr) && amqpErr.Code == amqp.PreconditionFailed {
			return QueueState{}, fmt.Errorf("declare queue %s: %w: %s", queue, ErrQueueArguments, amqpErr.Reason)
		}
		return QueueState{}, fmt.Errorf("declare queue %s: %w", queue, err)
	}
	for _, key := range bind {
		if err := ch.QueueBind(queue, key, t.CommandExchange(), false, nil); err != nil {
			return QueueState{}, fmt.Errorf("bind %s to %s: %w", queue, key, err)
		}
	}
	for _, key := range unbind {
		if err := ch.QueueUnbind(queue, key, t.CommandExchange(), nil); err != nil {
			return QueueState{}, fmt.Errorf("unbind %s from %s: %w", queue, key, err)
		}
	}
	return QueueState{Messages: q.Messages, Consumers: q.Consumers}, nil
}
