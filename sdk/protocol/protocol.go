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
	"time"
)

// AMQP message properties.
const (
	// ContentType is the content type of every command and reply body.
	ContentType = "application/json"
	// CommandType is the AMQP type property of a command or compensation.
	CommandType = "ordersaga.command.v1"
	// ReplyType is the AMQP type property of a reply.
	ReplyType = "ordersaga.reply.v1"
)

// AMQP headers of a command. A participant copies every one of them onto
// its reply, unchanged, so that the operator can route the reply to its saga
// without a lookup.
const (
	HeaderSagaNamespace = "x-saga-namespace"
	HeaderSagaName      = "x-saga-name"
	HeaderSagaUID       = "x-saga-uid"
	HeaderStep          = "x-saga-step"
	HeaderKind          = "x-saga-kind"
	HeaderRound         = "x-saga-round"
	HeaderAttempt       = "x-saga-attempt"
	// HeaderDeadline is when the operator stops waiting for the reply
	// (RFC 3339); a participant may drop work that is already late.
	HeaderDeadline = "x-saga-deadline"
)

// Headers of a dead-lettered reply, set by the operator.
const (
	// HeaderDeadLetterReason is why the reply was dead-lettered, for example
	// "MalformedReply" or "UnknownSaga".
	HeaderDeadLetterReason = "x-ordersaga-dead-letter-reason"
	// HeaderDeadLetterDetail is a human-readable account of the reason.
	HeaderDeadLetterDetail = "x-ordersaga-dead-letter-detail"
)

// Kind tells a command from a compensation.
type Kind string

const (
	// KindCommand asks a participant to carry out a step.
	KindCommand Kind = "command"
	// KindCompensation asks a participant to undo a step.
	KindCompensation Kind = "compensation"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindCommand || k == KindCompensation }

// SagaRef identifies the saga a message belongs to.
type SagaRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
}

// Command is the body of a command or compensation sent to a participant.
type Command struct {
	// MessageID equals the AMQP message_id property.
	MessageID string  `json:"messageId"`
	Saga      SagaRef `json:"saga"`
	// Step is the name of the step in the saga.
	Step string `json:"step"`
	Kind Kind   `json:"kind"`
	// Name is the command's name, for example "ChargePayment".
	Name string `json:"name"`
	// Attempt counts from 1 within the current retry round.
	Attempt int32 `json:"attempt"`
	// IdempotencyKey is the same for every attempt of one step's command (and,
	// separately, of its compensation). A participant makes the effect of a
	// key happen at most once, and replays the first outcome for later
	// attempts with the same key.
	IdempotencyKey string `json:"idempotencyKey"`
	// Deadline is when the operator stops waiting for the reply.
	Deadline time.Time `json:"deadline"`
	// Order is the order the saga carries out.
	Order Order `json:"order"`
	// Parameters are the step's command parameters from the saga's spec.
	Parameters map[string]string `json:"parameters,omitempty"`
	// Results holds the results of the steps that succeeded so far, by step
	// name, each value with the JSON type its participant gave it. A
	// compensation receives its own step's result here too.
	Results map[string]Result `json:"results,omitempty"`
}

// Order is the order a saga carries out, as participants receive it.
type Order struct {
	ID       string     `json:"id"`
	Customer Customer   `json:"customer"`
	Items    []LineItem `json:"items"`
	Total    Money      `json:"total"`
}

// Customer identifies who placed an order.
type Customer struct {
	ID string `json:"id"`
}

// LineItem is one product line of an order.
type LineItem struct {
	SKU       string `json:"sku"`
	Quantity  int32  `json:"quantity"`
	UnitPrice string `json:"unitPrice"`
}

// Money is a decimal amount in a currency.
type Money struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// Status is the outcome a participant reports.
type Status string

const (
	// StatusSucceeded: the command (or compensation) took effect.
	StatusSucceeded Status = "succeeded"
	// StatusFailed: it did not take effect and trying again will not help.
	StatusFailed Status = "failed"
	// StatusRetryable: it did not take effect; a later attempt may succeed.
	StatusRetryable Status = "retryable"
)

// ReasonCommandExpired is the reason of a retryable reply to a command
// whose x-saga-deadline passed before the participant started it: nothing
// was done. The operator ignores it for a copy whose deadline it has since
// moved (after a pause of its timers) and sent again.
const ReasonCommandExpired = "CommandExpired"

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusRetryable
}

// Reply is the body of a participant's reply.
type Reply struct {
	Status Status `json:"status"`
	// Reason is a short UpperCamelCase code, for example "CardDeclined".
	Reason string `json:"reason,omitempty"`
	// Message is a human-readable account of the outcome.
	Message string `json:"message,omitempty"`
	// Result is the small output of a successful step, for example the
	// payment id that the refund will need: strings, numbers and booleans.
	Result Result `json:"result,omitempty"`
}
