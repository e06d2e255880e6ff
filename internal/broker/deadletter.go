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

package broker

import (
	"context"
	"fmt"
	"maps"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// DeadLetter publishes a copy of d to the exchange, with the reason it could
// not be processed, and acknowledges d. If the copy cannot be published, d is
// rejected instead, so that its queue's own dead-letter policy keeps it
// (without the reason).
func (b *Broker) DeadLetter(ctx context.Context, exchange string, d amqp.Delivery, reason, detail string) error {
	headers := maps.Clone(map[string]any(d.Headers))
	if headers == nil {
		headers = map[string]any{}
	}
	headers[protocol.HeaderDeadLetterReason] = reason
	headers[protocol.HeaderDeadLetterDetail] = detail
	err := b.Publish(ctx, exchange, d.RoutingKey, amqpconn.Message{
		MessageID: d.MessageId, CorrelationID: d.CorrelationId, ReplyTo: d.ReplyTo, Type: d.Type,
		ContentType: d.ContentType, Headers: headers, Body: d.Body, Timestamp: d.Timestamp,
	})
	if err != nil {
		_ = d.Nack(false, false)
		return fmt.Errorf("dead-letter reply: %w", err)
	}
	_ = d.Ack(false)
	return nil
}
