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
	"errors"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ordersaga/ordersaga-operator/internal/faults"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
	"github.com/ordersaga/ordersaga-operator/sdk/sagatrace"
)

// Dead-letter reasons decided by the reconciler, beside protocol.Reject*.
const (
	// DeadLetterUnknownSaga: no saga of the reply's namespace and name exists.
	DeadLetterUnknownSaga = "UnknownSaga"
	// DeadLetterUnmatchedReply: the saga exists but sent no message the reply
	// answers (wrong uid, step, attempt or correlation id).
	DeadLetterUnmatchedReply = "UnmatchedReply"
	// DeadLetterUnauthenticatedReply: the reply answers a message of the saga
	// but RabbitMQ validated another user than the one its Participant
	// registers (spec.brokerUser), or none.
	DeadLetterUnauthenticatedReply = "UnauthenticatedReply"
)

// DeadLetterer moves a reply that cannot be processed to the dead-letter
// queue, with the reason.
type DeadLetterer interface {
	DeadLetter(ctx context.Context, d amqp.Delivery, reason, detail string) error
}

// ReplyObserver is told what becomes of replies, for metrics.
type ReplyObserver interface {
	ReplyReceived(status string)
	ReplyDeadLettered(reason string)
	// ReplyReturned: a reply was returned to the broker (ReplyReturner).
	ReplyReturned()
}

type nopReplyObserver struct{}

func (nopReplyObserver) ReplyReceived(string)     {}
func (nopReplyObserver) ReplyDeadLettered(string) {}
func (nopReplyObserver) ReplyReturned()           {}

// ReplyRouter takes replies off the reply queue: it checks each one and
// queues it in the inbox of its saga, which wakes that saga's reconcile.
// Nothing else is read or listed: the headers name the saga.
//
// A reply it refuses is dead-lettered in the background, so that a flood of
// bad replies costs the good ones behind it no confirm round trip each; at
// most maxDeadLettersInFlight are in flight, then Handle waits.
type ReplyRouter struct {
	Inbox       *Inbox
	DeadLetters DeadLetterer
	Observer    ReplyObserver
	Log         logr.Logger

	startOnce     sync.Once
	deadLettering chan struct{} // a slot per dead-letter in flight
	inFlight      sync.WaitGroup
}

const (
	// maxDeadLettersInFlight bounds the refused replies being dead-lettered
	// at once: the default prefetch, since each holds an unacknowledged
	// delivery. Dead-lettered one at a time, seven bad replies ahead of a
	// good one made it 10 to 30 times slower (test/integration).
	maxDeadLettersInFlight = 256
	// maxDeadLetterDetail bounds the detail header of a dead-lettered reply:
	// it quotes what the participant sent, and must not make the
	// dead-letter publish exceed the broker's frame size.
	maxDeadLetterDetail = 1024
)

// Handle is the reply consumer's handler.
func (r *ReplyRouter) Handle(ctx context.Context, d amqp.Delivery) {
	faults.Crash(faults.ReplyReceived)
	observer := r.Observer
	if observer == nil {
		observer = nopReplyObserver{}
	}
	if err := protocol.CheckReplyType(d.Type); err != nil {
		r.refuse(ctx, d, err)
		return
	}
	headers, err := protocol.ParseHeaders(d.Headers)
	if err == nil && d.CorrelationId == "" {
		err = &protocol.RejectError{Reason: protocol.RejectMissingHeaders, Err: errors.New("correlation_id missing")}
	}
	if err != nil {
		r.refuse(ctx, d, err)
		return
	}
	reply, err := protocol.DecodeReply(d.ContentType, d.Body)
	if err != nil {
		r.refuse(ctx, d, err)
		return
	}
	observer.ReplyReceived(string(reply.Status))
	// The reply's span: a child of the participant's, in the saga's trace.
	_, span := sagatrace.Tracer().Start(sagatrace.Extract(ctx, d.Headers), "receive reply",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
			attribute.String("ordersaga.saga", headers.SagaNamespace+"/"+headers.SagaName),
			attribute.String("ordersaga.step", headers.Step),
			attribute.String("ordersaga.kind", string(headers.Kind)),
			attribute.Int("ordersaga.attempt", int(headers.Attempt)),
			attribute.String("ordersaga.reply.status", string(reply.Status)),
			attribute.String("messaging.message.id", d.MessageId),
			attribute.String("messaging.message.correlation_id", d.CorrelationId),
		))
	span.End()
	key := types.NamespacedName{Namespace: headers.SagaNamespace, Name: headers.SagaName}
	r.Inbox.Add(key, &InboxItem{
		Delivery: &d,
		Event:    saga.ReplyReceived{Headers: headers, CorrelationID: d.CorrelationId, UserID: d.UserId, Reply: reply},
		Received: time.Now(),
	})
}

// refuse counts a reply that cannot be routed and dead-letters it with the
// reason of cause, a *protocol.RejectError, in the background.
func (r *ReplyRouter) refuse(ctx context.Context, d amqp.Delivery, cause error) {
	reason := protocol.RejectReason(cause)
	if r.Observer != nil {
		r.Observer.ReplyDeadLettered(reason)
	}
	log := r.Log.WithValues("messageID", d.MessageId, "correlationID", d.CorrelationId, "reason", reason)
	detail := cut(cause.Error(), maxDeadLetterDetail)
	log.Info("Reply dead-lettered", "detail", detail)
	r.startOnce.Do(func() { r.deadLettering = make(chan struct{}, maxDeadLettersInFlight) })
	r.deadLettering <- struct{}{}
	r.inFlight.Go(func() {
		defer func() { <-r.deadLettering }()
		// Not cut short by the consumer stopping: the publish has its own
		// timeout, and a reply left unacknowledged is redelivered anyway.
		if err := r.DeadLetters.DeadLetter(context.WithoutCancel(ctx), d, reason, detail); err != nil {
			log.Info("Reply rejected to the queue's dead-letter policy", "error", err.Error())
		}
	})
}

// Wait returns once the dead-letters in flight are done.
func (r *ReplyRouter) Wait() { r.inFlight.Wait() }

// cut shortens s to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
