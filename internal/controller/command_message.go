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
	"encoding/json"
	"fmt"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// commandMessage builds the AMQP message for a dispatch and its routing key
// "<service>.<command>". It is pure: the same saga and dispatch always give
// the same message, which is what makes sending it again safe.
func commandMessage(s *ordersv1alpha1.OrderSaga, d saga.Dispatch, replyQueue string) (string, amqpconn.Message, error) {
	step := s.RunSteps()[d.StepIndex]
	cmd := step.Command
	if d.Kind == protocol.KindCompensation {
		if step.Compensation == nil {
			return "", amqpconn.Message{}, fmt.Errorf("step %s has no compensation", step.Name)
		}
		cmd = *step.Compensation
	}
	body := protocol.Command{
		MessageID:      d.MessageID,
		Saga:           protocol.SagaRef{Namespace: s.Namespace, Name: s.Name, UID: string(s.UID)},
		Step:           step.Name,
		Kind:           d.Kind,
		Name:           cmd.Name,
		Attempt:        d.Attempt,
		IdempotencyKey: protocol.IdempotencyKey(string(s.UID), step.Name, d.Kind, d.Round),
		Deadline:       d.Deadline.UTC(),
		Order:          protocolOrder(s.Spec.Order),
		Parameters:     parameters(cmd.Parameters),
		Results:        saga.Results(s),
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return "", amqpconn.Message{}, fmt.Errorf("encode command: %w", err)
	}
	headers := protocol.Headers{
		SagaNamespace: s.Namespace, SagaName: s.Name, SagaUID: string(s.UID),
		Step: step.Name, Kind: d.Kind, Round: d.Round, Attempt: d.Attempt, Deadline: d.Deadline,
	}
	msg := amqpconn.Message{
		MessageID:   d.MessageID,
		ReplyTo:     replyQueue,
		Type:        protocol.CommandType,
		ContentType: protocol.ContentType,
		Headers:     headers.Table(),
		Body:        raw,
		// The dispatch time, not the send time: a message sent again after a
		// crash is the same message.
		Timestamp: d.DispatchedAt,
	}
	return step.Service + "." + cmd.Name, msg, nil
}

func protocolOrder(o ordersv1alpha1.Order) protocol.Order {
	items := make([]protocol.LineItem, len(o.Items))
	for i, it := range o.Items {
		items[i] = protocol.LineItem{SKU: it.SKU, Quantity: it.Quantity, UnitPrice: it.UnitPrice}
	}
	return protocol.Order{
		ID:       o.ID,
		Customer: protocol.Customer{ID: o.Customer.ID},
		Items:    items,
		Total:    protocol.Money{Amount: o.Total.Amount, Currency: o.Total.Currency},
	}
}

func parameters(p map[string]ordersv1alpha1.ParameterValue) map[string]string {
	if len(p) == 0 {
		return nil
	}
	out := make(map[string]string, len(p))
	for k, v := range p {
		out[k] = string(v)
	}
	return out
}
