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
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Consumer consumes one queue with manual acknowledgements and a bounded
// prefetch, on a channel of its own, and starts again after every
// reconnection. Deliveries are handed to Workers goroutines by Key: those
// with the same key go to the same worker and are handled one at a time, in
// the order they arrived, across reconnections too.
//
// When ctx ends, the consumer cancels its subscription, lets the handlers in
// flight finish (and acknowledge on the channel they came on), returns the
// deliveries not yet started to the queue, and only then closes its channel.
type Consumer struct {
	Conn  *Conn
	Queue string
	// Tag names the consumer in the broker's management UI; default a
	// unique "amqpconn-" tag.
	Tag string
	// Prefetch bounds the deliveries not yet acknowledged; default
	// DefaultPrefetch.
	Prefetch int
	// Workers is how many deliveries are handled at once; default 1.
	Workers int
	// Key says which deliveries must be handled in order: those with the
	// same key go to the same worker. Default: the message id (no order).
	Key func(d amqp.Delivery) string
	// Handle is called for each delivery on its worker, and holds up that
	// worker's next delivery while it runs. It acknowledges the delivery
	// itself, possibly later and from another goroutine.
	Handle func(ctx context.Context, d amqp.Delivery)
	Log    logr.Logger

	consuming atomic.Bool
}

// DefaultPrefetch bounds a Consumer's unacknowledged deliveries unless it
// says otherwise.
const DefaultPrefetch = 256

// Consuming reports whether the consumer is subscribed to its queue.
func (c *Consumer) Consuming() bool { return c.consuming.Load() }

// Start consumes until ctx ends, then shuts down gracefully; it returns when
// the last handler has returned.
func (c *Consumer) Start(ctx context.Context) error {
	if c.Tag == "" {
		c.Tag = "amqpconn-" + rand.Text()
	}
	prefetch, workers := c.Prefetch, c.Workers
	if prefetch <= 0 {
		prefetch = DefaultPrefetch
	}
	if workers <= 0 {
		workers = 1
	}
	queues := make([]chan amqp.Delivery, workers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan amqp.Delivery, prefetch)
		wg.Go(func() { c.work(ctx, queues[i]) })
	}
	var draining *amqp.Channel
	for ctx.Err() == nil {
		conn, down, err := c.Conn.WaitConnection(ctx)
		if err != nil {
			break // only ctx ends the wait: a normal stop
		}
		ch, err := c.consume(ctx, conn, down, prefetch, queues)
		if err == nil {
			draining = ch
			break
		}
		if ch != nil {
			_ = ch.Close() // its unacknowledged deliveries go back to the queue
		}
		c.Log.Info("Consumer stopped; restarting", "queue", c.Queue, "reason", err.Error())
		// Do not spin if the channel keeps failing on a live connection, and
		// let the broker finish closing it before its number is used again:
		// reopening at once can make it close the whole connection (504
		// CHANNEL_ERROR).
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if draining != nil {
		_ = draining.Close()
	}
	return nil
}

// consume subscribes on a new channel and hands deliveries to the workers
// until the channel or the connection ends (an error) or ctx ends and the
// subscription is cancelled (nil: the channel stays open for the handlers in
// flight to acknowledge on).
func (c *Consumer) consume(ctx context.Context, conn *amqp.Connection, down <-chan struct{}, prefetch int, queues []chan amqp.Delivery) (*amqp.Channel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open consumer channel: %w", err)
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		return ch, fmt.Errorf("set prefetch: %w", err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	deliveries, err := ch.Consume(c.Queue, c.Tag, false, false, false, false, nil)
	if err != nil {
		return ch, fmt.Errorf("consume %s: %w", c.Queue, err)
	}
	c.Log.Info("Consuming", "queue", c.Queue, "prefetch", prefetch, "workers", len(queues))
	c.consuming.Store(true)
	defer c.consuming.Store(false)
	stop := ctx.Done()
	cancelled := false
	for {
		select {
		case <-stop:
			// No new deliveries; those already sent are drained below and
			// go back to the queue unstarted.
			if err := ch.Cancel(c.Tag, false); err != nil {
				return ch, fmt.Errorf("cancel the subscription: %w", err) // closing the channel ends it
			}
			cancelled, stop = true, nil
		case <-down:
			return ch, errors.New("connection lost")
		case amqpErr := <-closed:
			// For example the broker's consumer timeout (406
			// PRECONDITION_FAILED): the unacknowledged deliveries are
			// redelivered.
			return ch, channelClosedError(amqpErr)
		case d, ok := <-deliveries:
			if !ok {
				if cancelled {
					return ch, nil
				}
				// amqp091-go reports a channel's closing before it ends its
				// deliveries; with no report, the broker cancelled the
				// subscription (the queue was deleted, for example).
				select {
				case amqpErr := <-closed:
					return ch, channelClosedError(amqpErr)
				default:
					return ch, errors.New("subscription cancelled by the broker")
				}
			}
			queues[c.shard(d, len(queues))] <- d
		}
	}
}

func channelClosedError(amqpErr *amqp.Error) error {
	if amqpErr != nil {
		return fmt.Errorf("channel closed: %w", amqpErr)
	}
	return errors.New("channel closed")
}

func (c *Consumer) shard(d amqp.Delivery, n int) int {
	if n == 1 {
		return 0
	}
	key := d.MessageId
	if c.Key != nil {
		key = c.Key(d)
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// work handles the deliveries of one worker, one at a time. Once ctx has
// ended, deliveries not yet started go back to the queue; the one in
// progress finishes.
func (c *Consumer) work(ctx context.Context, deliveries <-chan amqp.Delivery) {
	for d := range deliveries {
		if ctx.Err() != nil || channelClosed(d) {
			// Not started: the broker gives it to the next consumer. (On a
			// closed channel the broker has requeued it already.)
			_ = d.Nack(false, true)
			continue
		}
		c.Handle(ctx, d)
	}
}

func channelClosed(d amqp.Delivery) bool {
	ch, ok := d.Acknowledger.(*amqp.Channel)
	return ok && ch.IsClosed()
}
