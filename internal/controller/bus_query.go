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

	"github.com/go-logr/logr"
	amqp "github.com/rabbitmq/amqp091-go"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// SagaQuerier sends GetSaga: the reconciler's bus.
type SagaQuerier interface {
	GetSaga(ctx context.Context, q GetSaga) (SagaState, error)
}

// QueryConsumer answers the queries of the query queue (docs/events.md)
// through GetSaga. A query without reply_to cannot be answered and is
// dead-lettered, as is a malformed one (after its failure reply); a saga
// that does not exist, or a failed read, is an answer like any other.
type QueryConsumer struct {
	Querier     SagaQuerier
	Publisher   ReplyPublisher
	DeadLetters DeadLetterer
	Log         logr.Logger
}

// Handle is the query consumer's handler.
func (c *QueryConsumer) Handle(ctx context.Context, d amqp.Delivery) {
	log := c.Log.WithValues("messageID", d.MessageId, "correlationID", d.CorrelationId)
	var reply protocol.QueryReply
	q, err := protocol.DecodeQueryRequest(d.Type, d.ContentType, d.Body)
	if err == nil && d.ReplyTo == "" {
		err = refuse(protocol.RefuseNoReplyTo, "the query has no reply_to")
	}
	if err == nil {
		reply = c.answer(ctx, q)
	} else {
		reply.Error = failure(err)
	}
	if err := sendReply(ctx, c.Publisher, d, protocol.QueryReplyType, reply); err != nil {
		log.Info("Query reply not sent; query returned to the queue", "error", err.Error())
		_ = d.Nack(false, true)
		return
	}
	if err == nil {
		_ = d.Ack(false)
		return
	}
	reason, detail := protocol.RejectReason(err), cut(err.Error(), maxDeadLetterDetail)
	log.Info("Query refused", "reason", reason, "detail", detail)
	if err := c.DeadLetters.DeadLetter(context.WithoutCancel(ctx), d, reason, detail); err != nil {
		log.Info("Query rejected to the queue's dead-letter policy", "error", err.Error())
	}
}

// answer runs the query.
func (c *QueryConsumer) answer(ctx context.Context, q protocol.QueryRequest) protocol.QueryReply {
	state, err := c.Querier.GetSaga(ctx, GetSaga{Namespace: q.Namespace, Name: q.Name, OrderID: q.OrderID})
	switch {
	case err == nil:
		return protocol.QueryReply{Saga: sagaSummary(state)}
	case errors.Is(err, ErrSagaNotFound):
		return protocol.QueryReply{Error: failure(refuse(protocol.RefuseSagaNotFound, "%v", err))}
	case errors.Is(err, ErrAmbiguousOrder):
		return protocol.QueryReply{Error: failure(refuse(protocol.RefuseAmbiguousOrder, "%v", err))}
	case errors.Is(err, ErrNamespaceNotOwned):
		// Sent to the wrong shard's query queue: its owner answers it.
		return protocol.QueryReply{Error: failure(refuse(protocol.RefuseNamespaceNotAccepted, "%v", err))}
	default:
		return protocol.QueryReply{Error: failure(refuse(protocol.FailUnavailable, "%v", err))}
	}
}

// sagaSummary is the saga as a query answers it.
func sagaSummary(s SagaState) *protocol.SagaSummary {
	out := &protocol.SagaSummary{
		Namespace: s.Key.Namespace, Name: s.Key.Name, UID: string(s.UID), OrderID: s.OrderID,
		Phase: string(s.Phase), CurrentStep: s.CurrentStep, Template: s.Template, TemplateGeneration: s.TemplateGeneration,
	}
	for _, c := range s.Conditions {
		out.Conditions = append(out.Conditions, protocol.ConditionSummary{
			Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message,
		})
	}
	results := saga.Results(&ordersv1alpha1.OrderSaga{Status: ordersv1alpha1.OrderSagaStatus{Steps: s.Steps}})
	for _, st := range s.Steps {
		out.Steps = append(out.Steps, protocol.StepSummary{
			Name: st.Name, State: string(st.State), Reason: st.Reason, Result: results[st.Name],
		})
	}
	return out
}
