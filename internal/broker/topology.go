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

// DefaultReplyDeliveryLimit is how often a reply is delivered before the
// broker dead-letters it, unless the Topology says otherwise.
const DefaultReplyDeliveryLimit = 100

// Topology names the exchanges and queues of the operator. Every name
// starts with Prefix, so that several operators (or test suites) can share a
// broker without meeting.
type Topology struct {
	// Prefix of every name, for example "ordersaga".
	Prefix string
	// ReplyDeliveryLimit is how often a reply is delivered before the
	// broker dead-letters it as poison (quorum queue x-delivery-limit).
	ReplyDeliveryLimit int
	// Starts declares the start queue: the operator starts sagas from the
	// bus (bus.go).
	Starts bool
	// Shard, when set, names the operator's shard (docs/scaling.md): its
	// reply, start and query queues, and their dead-letter pairs, end in
	// ".<Shard>", so that shards sharing a prefix never take one another's
	// messages. The command and event exchanges, and participants' queues,
	// stay shared. Empty keeps the unsharded names.
	Shard string
}

// sharded returns name, ended by the shard's name when there is one.
func (t Topology) sharded(name string) string {
	if t.Shard == "" {
		return name
	}
	return name + "." + t.Shard
}

// CommandExchange is the durable topic exchange commands are published to,
// with the routing key "<service>.<command>".
func (t Topology) CommandExchange() string { return protocol.CommandExchange(t.Prefix) }

// ReplyQueue is the durable queue participants reply to (reply_to): the
// shard's own when sharded.
func (t Topology) ReplyQueue() string { return t.sharded(protocol.ReplyQueue(t.Prefix)) }

// DeadLetterExchange receives replies that cannot be processed.
func (t Topology) DeadLetterExchange() string { return t.sharded(t.Prefix + ".dead-letter") }

// CommandDeadLetterExchange receives the commands a participant's queue
// dead-letters: refused by the participant, or delivered too often.
// It is outside "<prefix>.commands.*", the names of participants' queues.
func (t Topology) CommandDeadLetterExchange() string { return t.Prefix + ".commands-dead-letter" }

// CommandDeadLetterQueue keeps those commands for people to inspect.
func (t Topology) CommandDeadLetterQueue() string { return t.Prefix + ".commands-dead" }

// ParticipantQueue is the queue of a registered participant service, bound
// to the command exchange with "<service>.<command>" for each command and
// compensation it declares.
func (t Topology) ParticipantQueue(service string) string { return t.CommandExchange() + "." + service }

// participantQueueArgs are the arguments the operator declares a
// participant's queue with: a quorum queue whose poison commands are
// dead-lettered after DefaultCommandDeliveryLimit deliveries, with single
// active consumer if the Participant asks for it.
func (t Topology) participantQueueArgs(singleActiveConsumer bool) amqp.Table {
	args := amqp.Table{
		amqp.QueueTypeArg:     amqp.QueueTypeQuorum,
		argDeadLetterExchange: t.CommandDeadLetterExchange(),
		argDeliveryLimit:      int64(DefaultCommandDeliveryLimit),
	}
	if singleActiveConsumer {
		args[amqp.SingleActiveConsumerArg] = true
	}
	return args
}

// DefaultCommandDeliveryLimit is how often a command is delivered to a
// participant before its queue dead-letters it.
const DefaultCommandDeliveryLimit = 20

// EventExchange is the durable topic exchange lifecycle events are
// published to, with the routing key "<namespace>.<template>.<event>".
func (t Topology) EventExchange() string { return protocol.EventExchange(t.Prefix) }

// Quorum queue arguments.
const (
	argDeadLetterExchange = "x-dead-letter-exchange"
	argDeliveryLimit      = "x-delivery-limit"
)

// DeadLetterQueue keeps the dead-lettered replies for people to inspect.
// Sharded, it is "<reply queue>.dead": a shard may not be named "dead".
func (t Topology) DeadLetterQueue() string { return t.ReplyQueue() + ".dead" }

// Declare declares the topology; declaring it again is harmless.
func (t Topology) Declare(ch *amqp.Channel) error {
	limit := t.ReplyDeliveryLimit
	if limit <= 0 {
		limit = DefaultReplyDeliveryLimit
	}
	if err := ch.ExchangeDeclare(t.CommandExchange(), amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", t.CommandExchange(), err)
	}
	if err := ch.ExchangeDeclare(t.EventExchange(), amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", t.EventExchange(), err)
	}
	if err := declareDeadLetter(ch, t.DeadLetterExchange(), t.DeadLetterQueue()); err != nil {
		return err
	}
	if err := declareDeadLetter(ch, t.CommandDeadLetterExchange(), t.CommandDeadLetterQueue()); err != nil {
		return err
	}
	// A quorum queue counts deliveries: a reply that keeps coming back
	// unacknowledged is dead-lettered instead of looping for ever.
	replyArgs := amqp.Table{
		amqp.QueueTypeArg:     amqp.QueueTypeQuorum,
		argDeadLetterExchange: t.DeadLetterExchange(),
		argDeliveryLimit:      int64(limit),
	}
	if _, err := ch.QueueDeclare(t.ReplyQueue(), true, false, false, false, replyArgs); err != nil {
		return fmt.Errorf("declare queue %s: %w", t.ReplyQueue(), err)
	}
	return t.declareBus(ch)
}

// Delete removes the topology, for tests and uninstallation.
func (t Topology) Delete(ch *amqp.Channel) error {
	for _, q := range []string{t.ReplyQueue(), t.DeadLetterQueue(), t.CommandDeadLetterQueue()} {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			return fmt.Errorf("delete queue %s: %w", q, err)
		}
	}
	for _, x := range []string{t.CommandExchange(), t.DeadLetterExchange(), t.CommandDeadLetterExchange(), t.EventExchange()} {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			return fmt.Errorf("delete exchange %s: %w", x, err)
		}
	}
	return t.deleteBus(ch)
}
