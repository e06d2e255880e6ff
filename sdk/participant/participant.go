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

package participant

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Options configure a Participant.
type Options struct {
	// URL is the broker's AMQP URL, credentials included.
	URL string
	// TLS configures amqps; nil uses the system roots.
	TLS *tls.Config
	// Service is the participant's service name, as sagas name it in
	// spec.steps[].service. Required.
	Service string
	// CommandExchange is the operator's command exchange; default
	// "ordersaga.commands" (the operator's default topology prefix).
	CommandExchange string
	// Queue is the service's queue; default "<CommandExchange>.<Service>".
	Queue string
	// OperatorUser, when set, is the broker user the operator publishes
	// commands as: a command whose user_id (which RabbitMQ validates) is
	// another is dropped unanswered and dead-lettered by the queue, since
	// anyone allowed to write to the default exchange can put a message in
	// the service's queue. Set it so that the headers of a command (its
	// saga's namespace, say) can be trusted.
	OperatorUser string
	// Concurrency is how many commands are handled at once; default 4. The
	// commands of one saga are always handled one at a time, in order.
	Concurrency int
	// Prefetch bounds the commands taken from the broker and not yet
	// acknowledged; default 2 × Concurrency.
	Prefetch int
	// Store remembers outcomes; default NewMemoryStore(100000), which is
	// for tests and demos: in production use a persistent TxStore such as
	// sdk/pgstore's.
	Store Store
	// Log receives the participant's log lines; default discards them.
	Log logr.Logger
}

// Participant consumes a service's commands and replies to them.
type Participant struct {
	opts     Options
	handlers map[handlerKey]Handler
	conn     *amqpconn.Conn
	consumer *amqpconn.Consumer
	user     string // the broker user, stamped on replies as user_id
}

type handlerKey struct {
	kind protocol.Kind
	name string
}

// New returns a Participant; register handlers, then Run it.
func New(opts Options) (*Participant, error) {
	if opts.URL == "" || opts.Service == "" {
		return nil, errors.New("participant: URL and Service are required")
	}
	if opts.CommandExchange == "" {
		opts.CommandExchange = protocol.CommandExchange(protocol.DefaultTopologyPrefix)
	}
	if opts.Queue == "" {
		opts.Queue = opts.CommandExchange + "." + opts.Service
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Prefetch <= 0 {
		opts.Prefetch = 2 * opts.Concurrency
	}
	if opts.Store == nil {
		opts.Store = NewMemoryStore(0)
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	p := &Participant{opts: opts, user: amqpconn.URLUser(opts.URL), handlers: map[handlerKey]Handler{}}
	name := "ordersaga-participant-" + opts.Service
	p.conn = amqpconn.New(amqpconn.Config{
		URL: opts.URL, TLS: opts.TLS, Topology: amqpconn.DeclarerFunc(p.declare), ConnectionName: name,
	}, opts.Log.WithName("broker"))
	p.consumer = &amqpconn.Consumer{
		Conn: p.conn, Queue: opts.Queue, Tag: name, Prefetch: opts.Prefetch,
		Workers: opts.Concurrency, Key: sagaKey, Handle: p.process, Log: opts.Log,
	}
	return p, nil
}

// Handle registers the handler of a command. Call it before Run.
func (p *Participant) Handle(command string, h Handler) {
	p.handlers[handlerKey{protocol.KindCommand, command}] = h
}

// Compensate registers the handler of a compensation. Call it before Run.
// A compensation must succeed when there is nothing to undo.
func (p *Participant) Compensate(command string, h Handler) {
	p.handlers[handlerKey{protocol.KindCompensation, command}] = h
}

// Ready reports whether the participant is consuming on a live connection,
// its queue declared and bound: a readiness probe for the service.
func (p *Participant) Ready() bool {
	return p.consumer.Consuming() && p.conn.Connected()
}

// Queue returns the name of the service's queue.
func (p *Participant) Queue() string { return p.opts.Queue }

// Run consumes commands until ctx ends, then shuts down gracefully: it
// stops taking commands, lets the handlers in flight finish and reply, and
// returns the commands not yet started to the queue.
func (p *Participant) Run(ctx context.Context) error {
	if len(p.handlers) == 0 {
		return errors.New("participant: no handler registered")
	}
	warnIfInMemory(p.opts.Log, p.opts.Store)
	// The connection outlives ctx, so that the handlers in flight can still
	// reply while the participant shuts down.
	connCtx, stopConn := context.WithCancel(context.WithoutCancel(ctx))
	connDone := make(chan struct{})
	go func() { defer close(connDone); _ = p.conn.Start(connCtx) }()
	defer func() { stopConn(); <-connDone }()

	_ = p.consumer.Start(ctx) // returns once the handlers in flight have replied
	p.opts.Log.Info("Participant stopped", "service", p.opts.Service)
	return nil
}

// sagaKey keeps one saga's commands in order: they are handled by one
// worker, one at a time.
func sagaKey(d amqp.Delivery) string {
	if uid, _ := d.Headers[protocol.HeaderSagaUID].(string); uid != "" {
		return uid
	}
	return d.MessageId
}

// declare checks, passively, that the service's queue exists: the
// operator declares and binds it once a Participant registers the service.
// A participant declares nothing on the broker, so that it needs no
// permission to change shared topology. While the queue is missing the
// connection is retried, with the reason logged.
func (p *Participant) declare(ch *amqp.Channel) error {
	if _, err := ch.QueueDeclarePassive(p.opts.Queue, true, false, false, false, nil); err != nil {
		if amqpErr, ok := errors.AsType[*amqp.Error](err); ok && amqpErr.Code == amqp.NotFound {
			return fmt.Errorf("%w: participant %s is not registered: its queue %s does not exist (apply a Participant named %s): %w",
				ErrNotRegistered, p.opts.Service, p.opts.Queue, p.opts.Service, err)
		}
		return fmt.Errorf("check queue %s: %w", p.opts.Queue, err)
	}
	return nil
}

// ErrNotRegistered means the service's queue does not exist: no Participant
// registers the service with the operator (or the operator has not declared
// its queue yet).
var ErrNotRegistered = errors.New("participant not registered")
