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

	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrNotConfirmed is returned when the broker did not confirm a publish: it
// nacked it, or the channel closed first. The message may or may not have
// arrived; publishing it again with the same message id is safe.
var ErrNotConfirmed = errors.New("publish not confirmed by the broker")

// UnroutableError is returned when no queue is bound to a message's routing
// key: the broker returned the message instead of delivering it.
type UnroutableError struct {
	Exchange, RoutingKey string
	ReplyText            string
}

func (e *UnroutableError) Error() string {
	return fmt.Sprintf("no queue bound to routing key %q on exchange %q (%s)", e.RoutingKey, e.Exchange, e.ReplyText)
}

// Message is what Publish sends.
type Message struct {
	MessageID string
	// UserID, if set, must be the connection's user: RabbitMQ refuses the
	// message otherwise, which lets receivers trust it.
	UserID        string
	CorrelationID string
	ReplyTo       string
	Type          string
	ContentType   string
	Headers       map[string]any
	Body          []byte
	Timestamp     time.Time
}

// Publish sends a persistent message with the mandatory flag and waits for
// the broker's confirm. It returns nil only when the broker has taken
// responsibility for the message and routed it to at least one queue.
func (c *Conn) Publish(ctx context.Context, exchange, routingKey string, msg Message) (err error) {
	start := time.Now()
	defer func() { c.cfg.Observer.Published(time.Since(start), err) }()
	s := c.session()
	if s == nil || s.ended() {
		return ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.PublishTimeout)
	defer cancel()
	dc, err := s.pub.PublishWithDeferredConfirmWithContext(ctx, exchange, routingKey, true, false, amqp.Publishing{
		MessageId:     msg.MessageID,
		UserId:        msg.UserID,
		CorrelationId: msg.CorrelationID,
		ReplyTo:       msg.ReplyTo,
		Type:          msg.Type,
		ContentType:   msg.ContentType,
		Headers:       msg.Headers,
		Body:          msg.Body,
		Timestamp:     msg.Timestamp,
		DeliveryMode:  amqp.Persistent,
	})
	if err != nil {
		return fmt.Errorf("publish to %s/%s: %w", exchange, routingKey, err)
	}
	acked, err := dc.WaitContext(ctx)
	// Take the message's return on every path, so that a return left over
	// from this publish is never attributed to a later one with the same id.
	ret, returned := s.returns.take(msg.MessageID, start)
	if err != nil {
		return fmt.Errorf("await confirm: %w", err)
	}
	if !acked {
		return ErrNotConfirmed
	}
	if returned {
		return &UnroutableError{Exchange: exchange, RoutingKey: routingKey, ReplyText: ret.ReplyText}
	}
	return nil
}

// returnTracker records the messages the broker returned as unroutable.
//
// For a mandatory message that no queue takes, RabbitMQ sends basic.return
// before basic.ack on the same channel, and amqp091-go's reader delivers the
// return to the NotifyReturn channel before it processes the ack. With an
// unbuffered channel that delivery completes only when our goroutine has
// received the return; take then asks the same goroutine to flush, which it
// does only after it has recorded the return it holds. So a publisher that
// saw its ack and calls take always sees its return.
type returnTracker struct {
	returned map[string]returned // by message id; touched only by run
	takes    chan takeRequest
	done     <-chan struct{} // the session's end
}

type returned struct {
	ret amqp.Return
	at  time.Time
}

type takeRequest struct {
	messageID string
	since     time.Time
	reply     chan takeResult
}

type takeResult struct {
	ret amqp.Return
	ok  bool
}

func newReturnTracker(returns <-chan amqp.Return, done <-chan struct{}) *returnTracker {
	t := &returnTracker{returned: map[string]returned{}, takes: make(chan takeRequest), done: done}
	go t.run(returns)
	return t
}

func (t *returnTracker) run(returns <-chan amqp.Return) {
	done := t.done
	// Returns are drained until amqp091-go closes the channel: a blocked
	// return would block its connection's reader, and with it the shutdown.
	for returns != nil || done != nil {
		select {
		case r, ok := <-returns:
			if !ok {
				returns = nil
				continue
			}
			t.returned[r.MessageId] = returned{ret: r, at: time.Now()}
		case req := <-t.takes:
			r, ok := t.returned[req.messageID]
			delete(t.returned, req.messageID)
			// A return older than the publish belongs to an earlier one
			// with the same id that gave up waiting.
			req.reply <- takeResult{ret: r.ret, ok: ok && !r.at.Before(req.since)}
		case <-done:
			done = nil // take no longer waits for us; keep draining returns
		}
	}
}

// take reports whether the message published at since was returned, and
// forgets it.
func (t *returnTracker) take(messageID string, since time.Time) (amqp.Return, bool) {
	req := takeRequest{messageID: messageID, since: since, reply: make(chan takeResult, 1)}
	select {
	case t.takes <- req:
	case <-t.done:
		// The session ended after the ack; a return lost here surfaces as
		// a timeout and a retry of the step.
		return amqp.Return{}, false
	}
	res := <-req.reply
	return res.ret, res.ok
}
