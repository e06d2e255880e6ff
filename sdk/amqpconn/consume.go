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

package amqpconn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Consumer consumes one queue with manual acknowledgements and a bounded
// prefetch, on a channel of its own, and starts again after every
// reconnection. It needs leader election (the default for a Runnable), so
// that only the leader takes replies.
type Consumer struct {
	Conn  *Conn
	Queue string
	// Tag names the consumer in the broker's management UI.
	Tag string
	// Prefetch bounds the deliveries not yet acknowledged; default 256.
	Prefetch int
	// Handle is called for each delivery, one at a time, and holds up the
	// next one while it runs: keep it short (a dead-letter publish is the
	// most it should do). It acknowledges the delivery itself, possibly later
	// and from another goroutine.
	Handle func(ctx context.Context, d amqp.Delivery)
	Log    logr.Logger
}

// Start consumes until ctx ends. It implements manager.Runnable.
func (c *Consumer) Start(ctx context.Context) error {
	prefetch := c.Prefetch
	if prefetch <= 0 {
		prefetch = 256
	}
	for {
		conn, down, err := c.Conn.WaitConnection(ctx)
		if err != nil {
			return nil //nolint:nilerr // only ctx ends the wait: a normal stop
		}
		if err := c.consume(ctx, conn, down, prefetch); ctx.Err() == nil {
			c.Log.Info("Consumer stopped; restarting", "queue", c.Queue, "reason", err.Error())
		} else {
			return nil
		}
		// Do not spin if the channel keeps failing on a live connection.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Consumer) consume(ctx context.Context, conn *amqp.Connection, down <-chan struct{}, prefetch int) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open consumer channel: %w", err)
	}
	defer func() { _ = ch.Close() }()
	if err := ch.Qos(prefetch, 0, false); err != nil {
		return fmt.Errorf("set prefetch: %w", err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	deliveries, err := ch.Consume(c.Queue, c.Tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.Queue, err)
	}
	c.Log.Info("Consuming", "queue", c.Queue, "prefetch", prefetch)
	for {
		select {
		case <-ctx.Done():
			// Stop taking deliveries; those not yet acknowledged go back to
			// the queue when the channel closes.
			_ = ch.Cancel(c.Tag, false)
			return ctx.Err()
		case <-down:
			return errors.New("connection lost")
		case amqpErr := <-closed:
			if amqpErr != nil {
				return fmt.Errorf("channel closed: %w", amqpErr)
			}
			return errors.New("channel closed")
		case d, ok := <-deliveries:
			if !ok {
				return errors.New("delivery channel closed")
			}
			c.Handle(ctx, d)
		}
	}
}
