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

package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// SagaStarter sends StartSaga: the reconciler's bus.
type SagaStarter interface {
	StartSaga(ctx context.Context, cmd StartSaga) (SagaStarted, error)
}

// ReplyPublisher publishes the replies to bus requests.
type ReplyPublisher interface {
	Publish(ctx context.Context, exchange, routingKey string, msg amqpconn.Message) error
}

// StartConsumer takes start messages off the start queue (docs/events.md):
// each becomes a StartSaga command; then the reply goes to reply_to, if set,
// and only then is the message acknowledged, so that a crash in between
// redelivers it, and the redelivery finds the saga and replies. A refused
// message gets a failure reply and is dead-lettered with its reason. While
// the apiserver is unavailable the message is held and the command tried
// again, up to HoldLimit, then returned to the queue.
type StartConsumer struct {
	Starter     SagaStarter
	Publisher   ReplyPublisher
	DeadLetters DeadLetterer
	// RetryDelay is the first wait before a StartSaga that failed
	// transiently is tried again; it doubles up to MaxRetryDelay.
	RetryDelay, MaxRetryDelay time.Duration
	// HoldLimit bounds how long one message is held while StartSaga keeps
	// failing transiently, well within the broker's consumer timeout.
	HoldLimit time.Duration
	// AfterStart, when set, runs once the saga exists and before the reply:
	// an error returns the message to the queue, as a crash there would.
	// Tests crash the operator with it.
	AfterStart func(ctx context.Context, started SagaStarted) error
	Log        logr.Logger
}

// Handle is the start consumer's handler.
func (c *StartConsumer) Handle(ctx context.Context, d amqp.Delivery) {
	log := c.Log.WithValues("messageID", d.MessageId, "correlationID", d.CorrelationId)
	req, err := protocol.DecodeStartRequest(d.Type, d.ContentType, d.Body)
	var started SagaStarted
	if err == nil {
		log = log.WithValues("namespace", req.Namespace, "template", req.Template, "order", req.Order.ID)
		started, err = c.start(ctx, log, req)
	}
	if err == nil && c.AfterStart != nil {
		err = c.AfterStart(ctx, started)
	}
	if err != nil && !protocol.IsRefusal(err) {
		log.Info("Start message returned to the queue", "error", err.Error())
		_ = d.Nack(false, true)
		return
	}
	if err := sendReply(ctx, c.Publisher, d, protocol.StartReplyType, startReply(started, err)); err != nil {
		log.Info("Start reply not sent; start message returned to the queue", "error", err.Error())
		_ = d.Nack(false, true)
		return
	}
	if err == nil {
		log.V(1).Info("Saga started", "saga", started.Key, "created", started.Created)
		_ = d.Ack(false)
		return
	}
	reason, detail := protocol.RejectReason(err), cut(err.Error(), maxDeadLetterDetail)
	log.Info("Start message refused", "reason", reason, "detail", detail)
	if err := c.DeadLetters.DeadLetter(context.WithoutCancel(ctx), d, reason, detail); err != nil {
		log.Info("Start message rejected to the queue's dead-letter policy", "error", err.Error())
	}
}

// start sends StartSaga, again while it fails transiently, until it
// succeeds, is refused, ctx ends or HoldLimit passes.
func (c *StartConsumer) start(ctx context.Context, log logr.Logger, req protocol.StartRequest) (SagaStarted, error) {
	delay, giveUp := c.RetryDelay, time.Now().Add(c.HoldLimit)
	for {
		started, err := c.Starter.StartSaga(ctx, StartSaga{Request: req})
		if err == nil || protocol.IsRefusal(err) || time.Now().After(giveUp) {
			return started, err
		}
		log.Info("Start failed; trying again", "error", err.Error(), "after", delay)
		select {
		case <-ctx.Done():
			return SagaStarted{}, fmt.Errorf("start: %w (stopping)", err)
		case <-time.After(delay):
		}
		delay = min(2*delay, c.MaxRetryDelay)
	}
}

func startReply(started SagaStarted, err error) protocol.StartReply {
	if err != nil {
		return protocol.StartReply{Error: failure(err)}
	}
	return protocol.StartReply{Namespace: started.Key.Namespace, Name: started.Key.Name, UID: string(started.UID)}
}

// failure is the failure reply of a refusal: its reason, and its account
// without the reason repeated.
func failure(err error) *protocol.Failure {
	msg := err.Error()
	if re, ok := errors.AsType[*protocol.RejectError](err); ok {
		msg = re.Err.Error()
	}
	return &protocol.Failure{Reason: protocol.RejectReason(err), Message: protocol.Truncate(msg, protocol.MaxMessageLength)}
}

// sendReply publishes body to the request's reply_to, if it has one, with
// its correlation_id, else its message_id, as the reply's correlation_id.
// A reply_to no queue is bound to (the requester went away) is not an
// error: nobody is waiting.
func sendReply(ctx context.Context, pub ReplyPublisher, d amqp.Delivery, typ string, body any) error {
	if d.ReplyTo == "" {
		return nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode reply: %w", err)
	}
	correlationID := d.CorrelationId
	if correlationID == "" {
		correlationID = d.MessageId
	}
	err = pub.Publish(ctx, "", d.ReplyTo, amqpconn.Message{
		MessageID: uuid.NewString(), CorrelationID: correlationID, Type: typ,
		ContentType: protocol.ContentType, Body: raw, Timestamp: time.Now(),
	})
	if _, ok := errors.AsType[*amqpconn.UnroutableError](err); ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("publish reply to %s: %w", d.ReplyTo, err)
	}
	return nil
}
