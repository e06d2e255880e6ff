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

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/faults"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/sagatrace"
)

// dispatchCommands sends the in-flight messages this process has not sent.
// After a restart that is every message the status has in flight: each goes
// again with its own id, and participants drop the duplicates.
//
// A message is sent only from a view known to be the latest (this pass wrote
// the status, or read it live). Sending what a stale cached status has in
// flight would repeat a command that was answered long ago, so a stale view
// with anything unsent asks for a live read first (errStaleView).
func (r *OrderSagaReconciler) dispatchCommands(ctx context.Context, req DispatchCommands) (CommandsDispatched, error) {
	if saga.Suspended(req.Saga) {
		return CommandsDispatched{}, nil // not even a resend after a restart: sent on resume
	}
	key := client.ObjectKeyFromObject(req.Saga)
	inFlight := saga.InFlight(req.Saga)
	var unsent []saga.Dispatch
	for _, d := range inFlight {
		if !r.published.has(key, d.MessageID, d.Deadline) {
			unsent = append(unsent, d)
		}
	}
	if len(unsent) > 0 && !r.Publisher.UnavailableSince().IsZero() {
		return CommandsDispatched{}, nil // sent once the broker is back: the broker watch wakes the saga
	}
	if !req.Fresh {
		if len(unsent) > 0 {
			return CommandsDispatched{}, errStaleView
		}
		return CommandsDispatched{}, nil
	}
	ids := make([]string, len(inFlight))
	for i, d := range inFlight {
		ids[i] = d.MessageID
	}
	r.published.retain(key, ids)

	var out CommandsDispatched
	for _, d := range unsent {
		err := r.publish(ctx, req.Saga, d)
		if nerr := r.notify.commandPublished(ctx, CommandPublished{Saga: req.Saga, Dispatch: d, Err: err}); nerr != nil {
			ctrl.LoggerFrom(ctx).Info("Command subscriber failed", "messageID", d.MessageID, "error", nerr.Error())
		}
		var unroutable *amqpconn.UnroutableError
		switch {
		case err == nil:
			faults.Crash(faults.AfterPublish)
			r.published.add(key, d.MessageID, d.Deadline)
			out.Sent++
		case errors.As(err, &unroutable):
			// Recorded by the next pass, as a failed attempt of the step.
			r.Inbox.Add(key, &InboxItem{Event: saga.DispatchFailed{
				Step: d.Step, MessageID: d.MessageID, Reason: ordersv1alpha1.StepReasonUnroutable, Message: unroutable.Error(),
			}, Received: req.Now})
		default:
			// Not sent, or not confirmed: try again soon with the same id.
			ctrl.LoggerFrom(ctx).Info("Command not sent; retrying", "step", d.Step, "attempt", d.Attempt,
				"messageID", d.MessageID, "error", err.Error())
			out.RetryAt = req.Now.Add(r.BrokerRetryInterval)
		}
	}
	return out, nil
}

// publish sends one message in a producer span of the saga's trace, whose
// context travels in the message's headers to the participant.
func (r *OrderSagaReconciler) publish(ctx context.Context, obj *ordersv1alpha1.OrderSaga, d saga.Dispatch) error {
	key, msg, err := commandMessage(obj, d, r.ReplyQueue)
	if err != nil {
		return err
	}
	msg.UserID = r.CommandUser
	ctx, span := sagatrace.Tracer().Start(sagatrace.SagaContext(ctx, string(obj.UID)), "publish "+key,
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
			attribute.String("ordersaga.saga", obj.Namespace+"/"+obj.Name),
			attribute.String("ordersaga.step", d.Step),
			attribute.String("ordersaga.kind", string(d.Kind)),
			attribute.Int("ordersaga.attempt", int(d.Attempt)),
			attribute.String("messaging.message.id", d.MessageID),
		))
	defer span.End()
	sagatrace.Inject(ctx, msg.Headers)
	err = r.Publisher.Publish(ctx, r.CommandExchange, key, msg)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
	}
	return err
}
