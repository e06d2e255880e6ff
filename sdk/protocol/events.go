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

package protocol

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// The edges of the operator on the bus, for order services (docs/events.md):
// sagas are started by a message on the start queue, their lifecycle events
// go out on the event exchange, and queries about them are answered on the
// query queue.

// EventExchange is the durable topic exchange lifecycle events are
// published to, with the routing key EventRoutingKey gives, under prefix.
func EventExchange(prefix string) string { return prefix + ".events" }

// StartQueue is the durable queue start messages are sent to, under prefix.
func StartQueue(prefix string) string { return prefix + ".start" }

// QueryQueue is the durable queue queries are sent to, under prefix.
func QueryQueue(prefix string) string { return prefix + ".queries" }

// EventType names a lifecycle event: the last word of its routing key and
// the message's type property.
type EventType string

// The lifecycle events of a saga.
const (
	EventSagaStarted         EventType = "SagaStarted"
	EventStepSucceeded       EventType = "StepSucceeded"
	EventStepFailed          EventType = "StepFailed"
	EventCompensationStarted EventType = "CompensationStarted"
	EventStepCompensated     EventType = "StepCompensated"
	EventSagaCompleted       EventType = "SagaCompleted"
	EventSagaCompensated     EventType = "SagaCompensated"
	EventSagaFailed          EventType = "SagaFailed"
	EventSagaCancelled       EventType = "SagaCancelled"
)

// InlineTemplate stands for the template in the routing key of a saga that
// names none (its steps are inline).
const InlineTemplate = "-"

// EventRoutingKey is "<namespace>.<template>.<event>": a consumer binds with
// "shop.checkout.*", "*.*.SagaCompleted" or "#". Namespaces and template
// names hold no dots (templates are refused at admission if they do).
func EventRoutingKey(namespace, template string, event EventType) string {
	if template == "" {
		template = InlineTemplate
	}
	return namespace + "." + template + "." + string(event)
}

// eventIDNamespace is the UUID namespace of lifecycle event ids (a random
// UUID, fixed forever).
var eventIDNamespace = uuid.MustParse("b3e5d0c4-7a91-4f26-8e1d-5c0f9a2b6d47")

// EventID is the message id of the lifecycle event that the saga's history
// entry seq announces: the same whenever it is published again, so that a
// consumer dedupes by it.
func EventID(sagaUID string, seq int32) string {
	return uuid.NewSHA1(eventIDNamespace, fmt.Appendf(nil, "%s/%d", sagaUID, seq)).String()
}

// Event is the JSON body of a lifecycle event (content type
// application/json).
type Event struct {
	// ID equals the message's message_id (EventID).
	ID   string    `json:"id"`
	Type EventType `json:"type"`
	// Seq numbers the saga's transitions from 1 in the order they happened;
	// not every transition is an event, so a consumer sees gaps.
	Seq  int32     `json:"seq"`
	Time time.Time `json:"time"`
	Saga SagaRef   `json:"saga"`
	// OrderID is the saga's spec.order.id.
	OrderID string `json:"orderId"`
	// Template and TemplateGeneration are the SagaTemplate the saga runs
	// and the generation pinned; empty for inline steps.
	Template           string `json:"template,omitempty"`
	TemplateGeneration int64  `json:"templateGeneration,omitempty"`
	// Step names the step of a step event.
	Step string `json:"step,omitempty"`
	// Reason is the transition reason (docs/api.md), finer than Type: a
	// StepFailed event's reason is StepFailed or StepTimedOut.
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
	// Phase is the saga's phase this event puts it in (Running,
	// Compensating, Completed, Compensated, Failed); empty for a step event.
	Phase string `json:"phase,omitempty"`
	// Drill marks the events of a compensation drill: a saga that failed
	// one of its steps on purpose (see docs/api.md). Consumers that act on
	// real orders may ignore them.
	Drill bool `json:"drill,omitempty"`
}
