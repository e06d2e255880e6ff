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
	"hash/fnv"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

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
	// Concurrency is how many commands are handled at once; default 4. The
	// commands of one saga are always handled one at a time, in order.
	Concurrency int
	// Prefetch bounds the commands taken from the broker and not yet
	// acknowledged; default 2 × Concurrency.
	Prefetch int
	// Store remembers outcomes; default NewMemoryStore(100000).
	Store Store
	// Log receives the participant's log lines; default discards them.
	Log logr.Logger
}

// Participant consumes a service's commands and replies to them.
type Participant struct {
	opts      Options
	handlers  map[handlerKey]Handler
	broker    *amqpconn.Conn
	user      string // the broker user, stamped on replies as user_id
	stopping  atomic.Bool
	consuming atomic.Bool
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
		opts.CommandExchange = "ordersaga.commands"
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
	user := "guest" // amqp091-go's default when the URL names no user
	if u, err := url.Parse(opts.URL); err == nil && u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	return &Participant{opts: opts, user: user, handlers: map[handlerKey]Handler{}}, nil
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
	return p.consuming.Load() && p.broker != nil && p.broker.Connected()
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
	p.broker = amqpconn.New(amqpconn.Config{
		URL: p.opts.URL, TLS: p.opts.TLS, Topology: p.topology(),
		ConnectionName: "ordersaga-participant-" + p.opts.Service,
	}, p.opts.Log.WithName("broker"))
	// The connection outlives ctx, so that the handlers in flight can still
	// reply while the participant shuts down.
	brokerCtx, stopBroker := context.WithCancel(context.WithoutCancel(ctx))
	brokerDone := make(chan struct{})
	go func() { defer close(brokerDone); _ = p.broker.Start(brokerCtx) }()
	defer func() { stopBroker(); <-brokerDone }()

	workers := make([]chan delivery, p.opts.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = make(chan delivery, p.opts.Prefetch)
		wg.Go(func() { p.work(ctx, workers[i]) })
	}
	var channels []*amqp.Channel
	for ctx.Err() == nil {
		conn, down, err := p.broker.WaitConnection(ctx)
		if err != nil {
			break
		}
		ch, err := p.consume(ctx, conn, down, workers)
		if ch != nil {
			channels = append(channels, ch)
		}
		if err != nil && ctx.Err() == nil {
			p.opts.Log.Info("Consumer stopped; restarting", "error", err.Error())
			// Let the broker finish closing the channel before its number
			// is used again: reopening at once can make it close the whole
			// connection (504 CHANNEL_ERROR).
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	p.stopping.Store(true)
	for _, w := range workers {
		close(w)
	}
	wg.Wait()
	for _, ch := range channels {
		_ = ch.Close() // anything still unacknowledged goes back to the queue
	}
	p.opts.Log.Info("Participant stopped", "service", p.opts.Service)
	return nil
}

// delivery is a command with the channel it came on.
type delivery struct {
	amqp.Delivery
	ch *amqp.Channel
}

// consume takes commands from one connection and hands each to the worker
// of its saga, so that one saga's commands are handled in order.
func (p *Participant) consume(ctx context.Context, conn *amqp.Connection, down <-chan struct{}, workers []chan delivery) (*amqp.Channel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if err := ch.Qos(p.opts.Prefetch, 0, false); err != nil {
		return ch, fmt.Errorf("set prefetch: %w", err)
	}
	tag := "ordersaga-participant-" + p.opts.Service
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	deliveries, err := ch.Consume(p.opts.Queue, tag, false, false, false, false, nil)
	if err != nil {
		return ch, fmt.Errorf("consume %s: %w", p.opts.Queue, err)
	}
	p.opts.Log.Info("Consuming", "queue", p.opts.Queue, "prefetch", p.opts.Prefetch)
	p.consuming.Store(true)
	defer p.consuming.Store(false)
	cancelled := false
	for {
		select {
		case <-ctx.Done():
			if !cancelled {
				// No new deliveries; those already here are drained below
				// and go back to the queue unstarted.
				_ = ch.Cancel(tag, false)
				cancelled = true
			}
		case <-down:
			return ch, errors.New("connection lost")
		case amqpErr := <-closed:
			// For example the broker's consumer timeout (406
			// PRECONDITION_FAILED): the unacknowledged commands are
			// redelivered, and their recorded outcomes answer them.
			if amqpErr != nil {
				return ch, fmt.Errorf("channel closed: %w", amqpErr)
			}
			return ch, errors.New("channel closed")
		case d, ok := <-deliveries:
			if !ok {
				if cancelled {
					return ch, nil
				}
				if amqpErr, ok := <-closed; ok && amqpErr != nil {
					return ch, fmt.Errorf("channel closed: %w", amqpErr)
				}
				return ch, errors.New("delivery channel closed")
			}
			workers[shard(d, len(workers))] <- delivery{Delivery: d, ch: ch}
		}
	}
}

func shard(d amqp.Delivery, n int) int {
	key, _ := d.Headers[protocol.HeaderSagaUID].(string)
	if key == "" {
		key = d.MessageId
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// topology declares the command exchange (as the operator does), the
// service's durable queue, and one binding per registered command.
func (p *Participant) topology() amqpconn.Declarer {
	return declarer(func(ch *amqp.Channel) error {
		if err := ch.ExchangeDeclare(p.opts.CommandExchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %s: %w", p.opts.CommandExchange, err)
		}
		args := amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
		if _, err := ch.QueueDeclare(p.opts.Queue, true, false, false, false, args); err != nil {
			return fmt.Errorf("declare queue %s: %w", p.opts.Queue, err)
		}
		for k := range p.handlers {
			key := p.opts.Service + "." + k.name
			if err := ch.QueueBind(p.opts.Queue, key, p.opts.CommandExchange, false, nil); err != nil {
				return fmt.Errorf("bind %s: %w", key, err)
			}
		}
		return nil
	})
}

type declarer func(ch *amqp.Channel) error

func (d declarer) Declare(ch *amqp.Channel) error { return d(ch) }
