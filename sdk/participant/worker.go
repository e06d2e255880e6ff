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
	"encoding/json"
	"fmt"
	"maps"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
	"github.com/ordersaga/ordersaga-operator/sdk/sagatrace"
)

// process handles one command: dedupe, idempotency, handler, record, reply,
// acknowledge, in that order.
func (p *Participant) process(ctx context.Context, d amqp.Delivery) {
	log := p.opts.Log.WithValues("messageID", d.MessageId)
	headers, err := protocol.ParseHeaders(d.Headers)
	var cmd protocol.Command
	if err == nil {
		err = json.Unmarshal(d.Body, &cmd)
	}
	if err == nil && (d.ReplyTo == "" || d.MessageId == "") {
		err = fmt.Errorf("reply_to or message_id missing")
	}
	if err == nil && p.opts.OperatorUser != "" && d.UserId != p.opts.OperatorUser {
		err = fmt.Errorf("user_id %q is not the operator's %q", d.UserId, p.opts.OperatorUser)
	}
	if err != nil {
		// Nobody can be answered: drop it, loudly.
		log.Error(err, "Command dropped: not a valid ordersaga command")
		_ = d.Nack(false, false)
		return
	}
	log = log.WithValues("saga", headers.SagaNamespace+"/"+headers.SagaName, "step", headers.Step,
		"kind", string(headers.Kind), "command", cmd.Name, "attempt", headers.Attempt)

	// Work is not cut short by shutdown: the handler in flight finishes,
	// within the command's own deadline. It runs in a span that continues
	// the saga's trace from the command's headers.
	workCtx, span := sagatrace.Tracer().Start(sagatrace.Extract(context.WithoutCancel(ctx), d.Headers),
		"handle "+p.opts.Service+"."+cmd.Name, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
			attribute.String("ordersaga.saga", headers.SagaNamespace+"/"+headers.SagaName),
			attribute.String("ordersaga.step", headers.Step),
			attribute.String("ordersaga.kind", string(headers.Kind)),
			attribute.Int("ordersaga.attempt", int(headers.Attempt)),
			attribute.String("messaging.message.id", d.MessageId),
		))
	defer span.End()
	reply, err := p.outcome(workCtx, d, headers, cmd)
	if err != nil {
		log.Error(err, "Command not handled; it goes back to the queue")
		_ = d.Nack(false, true)
		return
	}
	if err := p.sendReply(workCtx, ctx.Done(), d, reply); err != nil {
		// The outcome is recorded: the redelivery replays it.
		log.Error(err, "Reply not sent; the command goes back to the queue")
		_ = d.Nack(false, true)
		return
	}
	_ = d.Ack(false)
	span.SetAttributes(attribute.String("ordersaga.reply.status", string(reply.Status)))
	if reply.Status != protocol.StatusSucceeded {
		span.SetStatus(codes.Error, reply.Reason)
	}
	log.V(1).Info("Command handled", "status", string(reply.Status), "reason", reply.Reason)
}

// outcome returns the reply to a command: the one recorded for its message
// id, the outcome recorded for its idempotency key, or the handler's. The
// first final outcome recorded for a key wins: a participant that shares
// its Store with other instances replies what the first one did. With a
// TxStore all of it happens in one transaction (outcomeInTx).
func (p *Participant) outcome(ctx context.Context, d amqp.Delivery, h protocol.Headers, cmd protocol.Command) (protocol.Reply, error) {
	key := idempotencyKey(h, cmd)
	if txStore, ok := p.opts.Store.(TxStore); ok {
		return p.outcomeInTx(ctx, txStore, d, h, cmd, key)
	}
	store := p.opts.Store
	if reply, ok, err := store.Reply(ctx, d.MessageId); err != nil || ok {
		return reply, err
	}
	if reply, ok, err := store.Outcome(ctx, key); err != nil {
		return reply, err
	} else if ok {
		return reply, store.Record(ctx, d.MessageId, key, reply)
	}
	if reply, ok := expired(h); ok {
		return reply, nil
	}
	var commandOutcome *protocol.Reply
	if h.Kind == protocol.KindCompensation {
		var err error
		if commandOutcome, err = compensating(ctx, store, h); err != nil {
			return protocol.Reply{}, err
		}
	}
	reply := p.call(ctx, &Command{Command: cmd, Headers: h, Redelivered: d.Redelivered, CommandOutcome: commandOutcome})
	if reply.Status != protocol.StatusRetryable {
		winner, err := store.RecordOutcomeIfAbsent(ctx, key, reply)
		if err != nil {
			return protocol.Reply{}, err
		}
		reply = winner
	}
	return reply, store.Record(ctx, d.MessageId, key, reply)
}

// outcomeInTx is outcome in one transaction of a TxStore, which holds the
// command's key from the first read to the commit: the handler's writes and
// the record of a final outcome commit together, before the reply is sent.
// A retryable outcome is rolled back and recorded nowhere: nothing took
// effect, so a copy of the message may run again.
func (p *Participant) outcomeInTx(ctx context.Context, store TxStore, d amqp.Delivery, h protocol.Headers, cmd protocol.Command, key string) (protocol.Reply, error) {
	tx, err := store.Begin(ctx)
	if err != nil {
		return protocol.Reply{}, fmt.Errorf("begin the command's transaction: %w", err)
	}
	// Rolling back after a commit does nothing; a failed rollback leaves
	// nothing behind either, since the transaction did not commit.
	defer func() { _ = tx.Rollback(ctx) }()
	if err := tx.Lock(ctx, key); err != nil {
		return protocol.Reply{}, fmt.Errorf("lock idempotency key %s: %w", key, err)
	}
	if reply, ok, err := tx.Reply(ctx, d.MessageId); err != nil || ok {
		return reply, err
	}
	reply, recorded, err := tx.Outcome(ctx, key)
	if err != nil {
		return protocol.Reply{}, err
	}
	if !recorded {
		if reply, ok := expired(h); ok {
			return reply, nil
		}
		var commandOutcome *protocol.Reply
		if h.Kind == protocol.KindCompensation {
			if commandOutcome, err = compensating(ctx, tx, h); err != nil {
				return protocol.Reply{}, err
			}
		}
		c := &Command{Command: cmd, Headers: h, Redelivered: d.Redelivered, CommandOutcome: commandOutcome}
		reply, err = tx.Handle(ctx, func(ctx context.Context) protocol.Reply { return p.call(ctx, c) })
		if err != nil {
			// The handler's writes are lost with the transaction: nothing
			// took effect, and a later attempt may succeed.
			return protocol.Reply{Status: protocol.StatusRetryable, Reason: ReasonHandlerError,
				Message: protocol.Truncate("the handler's transaction failed: "+err.Error(), protocol.MaxMessageLength)}, nil
		}
		if reply.Status == protocol.StatusRetryable {
			return reply, nil
		}
		if reply, err = tx.RecordOutcomeIfAbsent(ctx, key, reply); err != nil {
			return protocol.Reply{}, err
		}
	}
	if err := tx.Record(ctx, d.MessageId, key, reply); err != nil {
		return protocol.Reply{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		// Committed or not, the redelivery finds out: it is answered from
		// the record, or runs again.
		return protocol.Reply{}, fmt.Errorf("commit the command's transaction: %w", err)
	}
	return reply, nil
}

// idempotencyKey is the command's key, or the one the protocol derives from
// its headers if the body names none.
func idempotencyKey(h protocol.Headers, cmd protocol.Command) string {
	if cmd.IdempotencyKey != "" {
		return cmd.IdempotencyKey
	}
	return protocol.IdempotencyKey(h.SagaUID, h.Step, h.Kind, h.Round)
}

// expired returns the refusal of a command whose deadline has passed. A copy
// that waited past its deadline (in the queue, or while this service was
// down): the operator has stopped waiting for it or will send it again. Not
// running it is what makes forgetting old records safe; not recording the
// refusal lets a later copy run.
func expired(h protocol.Headers) (protocol.Reply, bool) {
	if h.Kind != protocol.KindCommand || h.Deadline.IsZero() || !time.Now().After(h.Deadline) {
		return protocol.Reply{}, false
	}
	return protocol.Reply{Status: protocol.StatusRetryable, Reason: ReasonCommandExpired,
		Message: "the command's deadline " + h.Deadline.UTC().Format(time.RFC3339) + " passed before it was started"}, true
}

// compensating returns the outcome recorded in store for the command that a
// compensation undoes, or nil if the command never ran here; then it
// records a tombstone, so that the command, if it arrives later, is refused.
// (The commands of one saga are handled one at a time, so a command still
// running here when its compensation arrives has finished by now; with a
// TxStore, one running on another instance holds its key, and recording the
// tombstone waits for it.)
func compensating(ctx context.Context, store Store, h protocol.Headers) (*protocol.Reply, error) {
	commandKey := protocol.IdempotencyKey(h.SagaUID, h.Step, protocol.KindCommand, h.Round)
	if outcome, ok, err := store.Outcome(ctx, commandKey); err != nil || ok {
		return &outcome, err
	}
	tombstone := protocol.Reply{Status: protocol.StatusFailed, Reason: ReasonAlreadyCompensated,
		Message: "the step was compensated before its command arrived"}
	outcome, err := store.RecordOutcomeIfAbsent(ctx, commandKey, tombstone)
	if err != nil || (outcome.Status == tombstone.Status && outcome.Reason == tombstone.Reason) {
		return nil, err
	}
	return &outcome, nil // recorded by another instance in the meantime
}

// call runs the handler, within the command's deadline, and turns a panic
// into a failure.
func (p *Participant) call(ctx context.Context, cmd *Command) (reply protocol.Reply) {
	h := cmd.Headers
	handler := p.handlers[handlerKey{h.Kind, cmd.Name}]
	if handler == nil {
		return protocol.Reply{Status: protocol.StatusFailed, Reason: ReasonUnknownCommand,
			Message: fmt.Sprintf("service %s has no %s handler for %s", p.opts.Service, h.Kind, cmd.Name)}
	}
	if !cmd.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, cmd.Deadline)
		defer cancel()
	}
	defer func() {
		if v := recover(); v != nil {
			p.opts.Log.Error(fmt.Errorf("panic: %v", v), "Handler panicked", "command", cmd.Name,
				"stack", string(debug.Stack()))
			reply = protocol.Reply{Status: protocol.StatusFailed, Reason: ReasonHandlerPanic,
				Message: protocol.Truncate(fmt.Sprintf("handler panicked: %v", v), protocol.MaxMessageLength)}
		}
	}()
	result, err := handler(ctx, cmd)
	return toReply(result, err)
}

// sendReply publishes the reply and waits for the broker's confirm, trying
// again for a while if the connection is down, less once stopping closes.
func (p *Participant) sendReply(ctx context.Context, stopping <-chan struct{}, d amqp.Delivery, reply protocol.Reply) error {
	body, err := json.Marshal(reply)
	if err != nil {
		return fmt.Errorf("encode reply: %w", err)
	}
	headers := map[string]any{}
	for k, v := range maps.All(d.Headers) {
		if strings.HasPrefix(k, "x-saga-") {
			headers[k] = v
		}
	}
	sagatrace.Inject(ctx, headers) // the handler's span is the reply's parent
	msg := amqpconn.Message{
		MessageID:     uuid.NewString(),
		UserID:        p.user,
		CorrelationID: d.MessageId,
		Type:          protocol.ReplyType,
		ContentType:   protocol.ContentType,
		Headers:       headers,
		Body:          body,
		Timestamp:     time.Now(),
	}
	// Keep trying through a short outage; give up sooner when shutting down.
	// Giving up is safe: the command goes back to the queue unacknowledged,
	// and its recorded outcome answers the redelivery.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = p.conn.Publish(ctx, "", d.ReplyTo, msg)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-stopping:
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}
