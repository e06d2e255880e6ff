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

package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Limits of the API. They bound every list and string so that the CRD's CEL
// rules stay within the apiserver's cost budget and an OrderSaga, status
// included, stays far below etcd's object size limit.
const (
	// MaxSteps is the largest number of steps a saga may have.
	MaxSteps = 20
	// MaxLineItems is the largest number of line items an order may have.
	MaxLineItems = 100
	// MaxParameters is the largest number of parameters a command may carry.
	MaxParameters = 16
	// MaxResultEntries is the largest number of entries a step result may hold.
	MaxResultEntries = 16
	// MaxResultValueLength is the longest value, in bytes, a step result may hold.
	MaxResultValueLength = 256
	// MaxResultKeyLength is the longest key, in bytes, a step result may hold.
	MaxResultKeyLength = 63
	// MaxReasonLength is the longest reason, in bytes, recorded for a step.
	MaxReasonLength = 64
	// MaxMessageLength is the longest message, in bytes, recorded for a step.
	MaxMessageLength = 1024
)

// The immutability of spec.order, spec.steps and spec.templateRef is the
// admission policy immutable-spec's (config/admission), not CEL rules of the
// CRD: the apiserver evaluates the CRD's rules on every status write too,
// where the spec cannot change, and comparing the step list was most of that
// cost (docs/benchmarks.md).

// OrderSagaSpec is the desired state of an OrderSaga: the order, and the
// ordered steps that carry it out or the SagaTemplate that holds them.
//
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.cancel) || !oldSelf.cancel || (has(self.cancel) && self.cancel)",message="spec.cancel cannot be withdrawn once set to true"
// +kubebuilder:validation:XValidation:rule="has(self.steps) != has(self.templateRef)",message="a saga names its steps or a template, exactly one of spec.steps and spec.templateRef"
type OrderSagaSpec struct {
	// templateRef names the SagaTemplate, in the saga's namespace, whose
	// steps, deadline and retention the saga runs with, instead of its own
	// steps. The template as it is when the saga starts is pinned in
	// status.template: editing the template later does not change the saga.
	// Immutable.
	// +optional
	TemplateRef *TemplateReference `json:"templateRef,omitempty"`

	// order is the order this saga carries out. It is immutable.
	// +required
	Order Order `json:"order"`

	// The rules across steps run on creation only (oldSelf.hasValue() is
	// false there): on an update the list is either unchanged, so still
	// valid, or refused as changed by the admission policy immutable-spec
	// (config/admission). Unguarded, the apiserver would evaluate them on
	// every status write too (docs/benchmarks.md).

	// steps are run one after another, in list order, unless a step names
	// the steps it runs after (runAfter): steps that do not depend on each
	// other then run at the same time. When a step fails, the steps that
	// completed are compensated in the reverse of the order they completed.
	// Step names must be unique. The list is immutable. Required unless
	// templateRef names a template.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.all(s, self.exists_one(t, t.name == s.name))",message="step names must be unique",optionalOldSelf=true
	// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.filter(s, has(s.drill)).size() <= 1",message="at most one step may be drilled",optionalOldSelf=true
	// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.all(i, s, !has(s.runAfter) || s.runAfter.all(n, self.exists(j, t, j < i && t.name == n)))",message="a step runs after steps listed before it: every runAfter name must be the name of an earlier step",optionalOldSelf=true
	Steps []SagaStep `json:"steps,omitempty"`

	// deadline bounds the forward path of the saga, counted from
	// status.startTime, leaving out the time the saga's timers were paused
	// (status.timersPausedFor). When it passes before the last step
	// succeeds, the saga stops and compensates its completed steps.
	// Compensation itself is not bounded by the deadline. Between 1s and
	// 720h; unset means no deadline.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('720h')",message="deadline must be between 1s and 720h"
	Deadline Duration `json:"deadline,omitempty"`

	// ttlSecondsAfterFinished is how long the saga is kept once it reached a
	// final phase and its last lifecycle event was published; then the
	// operator deletes it. Unset: the template's, else the operator's
	// --saga-ttl (0 there keeps finished sagas). Between 0 and 31536000 (a
	// year).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=31536000
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`

	// cancel, when true, stops a running saga and compensates its completed
	// steps; the saga ends Compensated. It has no effect on a saga that has
	// already finished. Once true it cannot be set back to false.
	// +optional
	Cancel bool `json:"cancel,omitempty"`

	// suspend, while true, holds the saga: no command or compensation is
	// sent, replies to those already sent are still recorded, and the step
	// timers and the deadline are paused (the deadline is extended by the
	// time suspended). A cancel or deletion of a suspended saga that has
	// sent a command takes effect when it is resumed. Setting it back to
	// false resumes the saga. No effect on a finished saga.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// TemplateReference names a SagaTemplate in the saga's namespace.
type TemplateReference struct {
	// name of the SagaTemplate.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`
}

// Order is the business transaction a saga carries out.
type Order struct {
	// id identifies the order in the Order Management Service.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._:-]*$`
	ID string `json:"id"`

	// customer is who placed the order.
	// +required
	Customer Customer `json:"customer"`

	// items are the order's line items.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	Items []LineItem `json:"items"`

	// total is the amount to charge for the order, in its currency. Unit
	// prices are in the same currency.
	// +required
	Total Money `json:"total"`
}

// Customer identifies who placed an order.
type Customer struct {
	// id identifies the customer in the Order Management Service.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._:-]*$`
	ID string `json:"id"`
}

// LineItem is one product line of an order.
type LineItem struct {
	// sku identifies the product.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._-]*$`
	SKU string `json:"sku"`

	// quantity is how many units are ordered, from 1 to 100000.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	Quantity int32 `json:"quantity"`

	// unitPrice is the price of one unit as a decimal string (for example
	// "19.99"), in the currency of the order's total.
	// +required
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?$`
	UnitPrice string `json:"unitPrice"`
}

// Money is an amount in a currency. Amounts are decimal strings, never
// floating point, so that they survive every encoding unchanged.
type Money struct {
	// amount is a non-negative decimal string with at most four decimal
	// places, for example "42.50".
	// +required
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?$`
	Amount string `json:"amount"`

	// currency is an ISO 4217 alphabetic code, for example "EUR".
	// +required
	// +kubebuilder:validation:Pattern=`^[A-Z]{3}$`
	Currency string `json:"currency"`
}

// SagaStep is one local transaction of the saga, carried out by one
// participant service.
type SagaStep struct {
	// name identifies the step within the saga: a lowercase DNS label, so that
	// it is also usable in AMQP routing keys and metric labels.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// service is the participant that executes the step's commands. Commands
	// are published with the routing key "<service>.<command name>", so the
	// service is a lowercase DNS label.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Service string `json:"service"`

	// command is what the participant is asked to do.
	// +required
	Command Command `json:"command"`

	// compensation is what the participant is asked to do to undo a completed
	// step. A step without a compensation is not undone when the saga
	// compensates.
	// +optional
	Compensation *Command `json:"compensation,omitempty"`

	// timeout is how long to wait for the participant's reply to one attempt
	// of the command or of its compensation. Between 1s and 24h. Unset: the
	// timeout its Participant declares for the command, else 30s.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="timeout must be between 1s and 24h"
	Timeout Duration `json:"timeout,omitempty"`

	// retry says how often and how soon a failed attempt is tried again. It
	// applies to the command and, separately, to the compensation. Unset:
	// the policy its Participant declares for the command, else the
	// defaults (3 attempts, 1s doubling up to 1m).
	// +optional
	Retry RetryPolicy `json:"retry,omitzero"`

	// runAfter names the steps this step runs after: it starts once every
	// one of them has succeeded (or was skipped by a request). Each must be
	// listed before this step, so no cycle can be written. Unset: the step
	// runs after the step listed before it (the first step at the start).
	// An empty list: the step runs at the start. Steps that do not depend on
	// each other run at the same time.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=63
	RunAfter []string `json:"runAfter,omitzero"`

	// drill, set to Fail, makes the step fail on purpose when the saga
	// reaches it, without sending its command: the steps completed before it
	// are compensated for real, a rehearsal of compensation. The step is
	// recorded Failed with reason Drill and the saga's status.drill is set.
	// Allowed only in namespaces labelled orders.ordersaga.io/drills=enabled
	// (config/admission). At most one step of a saga is drilled.
	// +optional
	Drill StepDrill `json:"drill,omitempty"`
}

// Command is a message to a participant: a name and a few parameters. The
// participant also receives the order and the results of the earlier steps.
type Command struct {
	// name is the command's name, for example "ReserveInventory". It is the
	// last segment of the routing key, so it has no dots or wildcards.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_-]*$`
	Name string `json:"name"`

	// parameters are passed to the participant unchanged: at most 16, keys of
	// at most 63 characters, values of at most 256.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.size() <= 63 && k.matches('^[A-Za-z][A-Za-z0-9_.-]*$'))",message="parameter names must start with a letter and contain only letters, digits, '_', '.' or '-' (at most 63 characters)"
	Parameters map[string]ParameterValue `json:"parameters,omitempty"`
}

// Duration is a length of time in Go's notation, for example "30s", "1m30s"
// or "250ms". It is kept as the string that was written, so that a client
// that reads and writes the object back never changes it.
// +kubebuilder:validation:MaxLength=32
// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
type Duration string

// Get returns the length of time; zero if d is empty or malformed, which the
// CRD's validation does not let through.
func (d Duration) Get() time.Duration {
	v, err := time.ParseDuration(string(d))
	if err != nil {
		return 0
	}
	return v
}

// ParameterValue is the value of a command parameter.
// +kubebuilder:validation:MaxLength=256
type ParameterValue string

// RetryPolicy bounds the attempts of a command and spaces them with
// exponential backoff and equal jitter: the delay before attempt n+1 is
// drawn at random between half of d and d (d itself excluded), where
// d = min(initialDelay * factor^(n-1), maxDelay).
//
// +kubebuilder:validation:XValidation:rule="!has(self.initialDelay) || !has(self.maxDelay) || duration(self.maxDelay) >= duration(self.initialDelay)",message="retry.maxDelay must not be less than retry.initialDelay"
type RetryPolicy struct {
	// maxAttempts is how many times the command is sent at most, the first
	// attempt included. From 1 (no retry) to 20.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	MaxAttempts int32 `json:"maxAttempts,omitempty"`

	// initialDelay is the delay before the second attempt. Between 100ms and 1h.
	// +optional
	// +kubebuilder:default="1s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('100ms') && duration(self) <= duration('1h')",message="retry.initialDelay must be between 100ms and 1h"
	InitialDelay Duration `json:"initialDelay,omitempty"`

	// factor multiplies the delay after each attempt. From 1 (constant delay)
	// to 10.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	Factor int32 `json:"factor,omitempty"`

	// maxDelay caps the delay between attempts. Between 100ms and 24h.
	// +optional
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('100ms') && duration(self) <= duration('24h')",message="retry.maxDelay must be between 100ms and 24h"
	MaxDelay Duration `json:"maxDelay,omitempty"`
}

// SagaPhase is where a saga is in its life.
// +kubebuilder:validation:Enum=Pending;Running;Compensating;Completed;Compensated;Failed
type SagaPhase string

const (
	// PhasePending: the saga is accepted and no command has been sent yet.
	PhasePending SagaPhase = "Pending"
	// PhaseRunning: the saga's steps are being executed.
	PhaseRunning SagaPhase = "Running"
	// PhaseCompensating: a step failed, the deadline passed, or the saga was
	// cancelled or deleted; completed steps are being undone in reverse order.
	PhaseCompensating SagaPhase = "Compensating"
	// PhaseCompleted: every step succeeded. Final.
	PhaseCompleted SagaPhase = "Completed"
	// PhaseCompensated: the saga did not complete and every completed step
	// that has a compensation was undone. Final.
	PhaseCompensated SagaPhase = "Compensated"
	// PhaseFailed: a compensation could not succeed; the saga needs a person.
	// It resumes when the retry annotation is set.
	PhaseFailed SagaPhase = "Failed"
)

// IsFinal reports whether the phase is one the saga does not leave on its own.
func (p SagaPhase) IsFinal() bool {
	return p == PhaseCompleted || p == PhaseCompensated || p == PhaseFailed
}

// StepState is where one step is in its life.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;TimedOut;Interrupted;Compensating;Compensated;CompensationFailed;Skipped
type StepState string

const (
	// StepPending: the step's command has not been sent yet.
	StepPending StepState = "Pending"
	// StepRunning: the command was sent and the saga awaits the reply, or
	// waits (until nextAttemptAt) to send the next attempt.
	StepRunning StepState = "Running"
	// StepSucceeded: the participant replied that the command succeeded.
	StepSucceeded StepState = "Succeeded"
	// StepFailed: the participant replied with a final failure, or every
	// attempt failed; the command had no effect and needs no compensation.
	StepFailed StepState = "Failed"
	// StepTimedOut: no reply came to the last attempt in time. The outcome is
	// unknown, so the step is compensated like a completed one.
	StepTimedOut StepState = "TimedOut"
	// StepInterrupted: the saga stopped waiting for the step (cancel, deadline
	// or deletion) after its command was sent. The outcome is unknown, so the
	// step is compensated like a completed one.
	StepInterrupted StepState = "Interrupted"
	// StepCompensating: the compensation was sent and the saga awaits the
	// reply, or waits (until nextAttemptAt) to send the next attempt.
	StepCompensating StepState = "Compensating"
	// StepCompensated: the participant replied that the compensation succeeded.
	StepCompensated StepState = "Compensated"
	// StepCompensationFailed: every attempt of the compensation failed.
	StepCompensationFailed StepState = "CompensationFailed"
	// StepSkipped: the saga ended before the step was started.
	StepSkipped StepState = "Skipped"
)

// StepStatus records what happened to one step.
//
// +kubebuilder:validation:XValidation:rule="!has(self.resultTypes) || self.resultTypes.all(k, has(self.result) && k in self.result && (self.resultTypes[k] == 'boolean' ? self.result[k] in ['true', 'false'] : self.result[k].matches('^-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][+-]?[0-9]+)?$')))",message="every key of resultTypes must be a key of result, whose value is a JSON number or boolean as the type says"
type StepStatus struct {
	// name is the step's name from spec.steps.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// state is where the step is in its life.
	// +required
	State StepState `json:"state"`

	// attempts counts the attempts of the command sent so far.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`

	// timedOutAttempts counts the attempts of the command that got no reply
	// in time. If any did, the step may have taken effect: it is compensated
	// even if a later attempt fails.
	// +optional
	TimedOutAttempts int32 `json:"timedOutAttempts,omitempty"`

	// compensationAttempts counts the attempts of the compensation sent in
	// the current retry round (retryRound): a manual retry starts it again
	// at 1.
	// +optional
	CompensationAttempts int32 `json:"compensationAttempts,omitempty"`

	// messageID is the AMQP message id of the last command or compensation
	// sent for this step. A reply is accepted only if it answers this id.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	MessageID string `json:"messageID,omitempty"`

	// startedAt is when the first attempt of the command was sent.
	// +optional
	StartedAt *metav1.MicroTime `json:"startedAt,omitempty"`

	// dispatchedAt is when the last command or compensation was sent.
	// +optional
	DispatchedAt *metav1.MicroTime `json:"dispatchedAt,omitempty"`

	// timeoutAt is when the saga stops waiting for the reply to the message
	// in flight (messageID): dispatchedAt plus the step's timeout, moved
	// later by every pause of the saga's timers. Absent while no message
	// awaits its reply.
	// +optional
	TimeoutAt *metav1.MicroTime `json:"timeoutAt,omitempty"`

	// nextAttemptAt is when the next attempt will be sent, while the step
	// waits out a retry backoff; moved later by every pause of the saga's
	// timers.
	// +optional
	NextAttemptAt *metav1.MicroTime `json:"nextAttemptAt,omitempty"`

	// completedAt is when the step reached its last state.
	// +optional
	CompletedAt *metav1.MicroTime `json:"completedAt,omitempty"`

	// reason is a short UpperCamelCase code for the last outcome of the
	// step's command, from the participant (for example "CardDeclined") or
	// from the operator (for example "Timeout", "Unroutable"). It is kept
	// when the step is compensated.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason,omitempty"`

	// message is a human-readable account of the last outcome of the step's
	// command.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`

	// compensationReason is like reason, for the last outcome of the step's
	// compensation.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	CompensationReason string `json:"compensationReason,omitempty"`

	// compensationMessage is like message, for the last outcome of the
	// step's compensation.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	CompensationMessage string `json:"compensationMessage,omitempty"`

	// result is the small output the participant returned with success (for
	// example a payment id), each value as text: a string as it is, a number
	// in the JSON notation the participant used, a boolean as "true" or
	// "false". Later steps and this step's compensation receive it, each
	// value with its JSON type (see resultTypes).
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	Result map[string]ResultValue `json:"result,omitempty"`

	// resultTypes gives the JSON type of each result value that is not a
	// string: "number" or "boolean". A value it does not list is a string.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	ResultTypes map[string]ResultType `json:"resultTypes,omitempty"`
}

// ResultValue is one value of a step result, as text.
// +kubebuilder:validation:MaxLength=256
type ResultValue string

// ResultType is the JSON type of a result value that is not a string.
// +kubebuilder:validation:Enum=number;boolean
type ResultType string

const (
	// ResultNumber: the value is a JSON number, in the notation the
	// participant used (for example "3" or "2.50").
	ResultNumber ResultType = "number"
	// ResultBoolean: the value is "true" or "false".
	ResultBoolean ResultType = "boolean"
)

// MaxHistory is the most history entries a saga's status keeps.
const MaxHistory = 40

// PinnedTemplate is what a saga took from its SagaTemplate when it started.
type PinnedTemplate struct {
	// name of the SagaTemplate.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// generation is the template's metadata.generation when the saga
	// started: its version.
	// +required
	Generation int64 `json:"generation"`

	// steps are the template's steps, as the saga runs them.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	Steps []SagaStep `json:"steps"`

	// deadline is the template's, if the saga sets none.
	// +optional
	Deadline Duration `json:"deadline,omitempty"`

	// ttlSecondsAfterFinished is the template's, if the saga sets none.
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

// HistoryEntry is one transition of a saga.
type HistoryEntry struct {
	// seq numbers the saga's transitions from 1, without gaps; a lifecycle
	// event's id is derived from the saga's uid and it.
	// +required
	Seq int32 `json:"seq"`

	// time of the transition.
	// +required
	Time metav1.MicroTime `json:"time"`

	// reason is the transition's reason, as its Event's (see
	// TransitionReason).
	// +required
	// +kubebuilder:validation:MaxLength=64
	Reason TransitionReason `json:"reason"`

	// step is the step concerned; empty for a change of the saga's phase.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Step string `json:"step,omitempty"`

	// message says what happened, cut to 256 bytes.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Message string `json:"message,omitempty"`
}

// OrderSagaStatus is the observed state of an OrderSaga.
type OrderSagaStatus struct {
	// observedGeneration is the metadata.generation this status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is where the saga is in its life.
	// +optional
	Phase SagaPhase `json:"phase,omitempty"`

	// currentStep is the step being executed or compensated, if any; with
	// parallel steps (runAfter), the first in spec order that is running or
	// about to be sent.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	CurrentStep string `json:"currentStep,omitempty"`

	// steps holds a record per step of spec.steps, in the same order. The
	// operator alone writes it, whole, so it is an atomic list: its
	// managedFields entry is one field, not every field of every record,
	// which each status write would decode, track and encode.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	Steps []StepStatus `json:"steps,omitempty"`

	// startTime is when the first command was sent; the deadline counts
	// from it.
	// +optional
	StartTime *metav1.MicroTime `json:"startTime,omitempty"`

	// timersPausedAt is set while the saga's timers are paused (the
	// operator cannot reach the broker): when the pause began. While it is
	// set no timeout, retry or deadline comes due and no message is sent;
	// replies received are still recorded. When the pause ends, every
	// timeoutAt and nextAttemptAt moves later by its length, which is added
	// to timersPausedFor.
	// +optional
	TimersPausedAt *metav1.MicroTime `json:"timersPausedAt,omitempty"`

	// timersPausedFor is how long the saga's timers were paused in all,
	// finished pauses only. The deadline is extended by it.
	// +optional
	TimersPausedFor Duration `json:"timersPausedFor,omitempty"`

	// completionTime is when the saga reached a final phase.
	// +optional
	CompletionTime *metav1.MicroTime `json:"completionTime,omitempty"`

	// retryRound counts the manual retries the saga has handled (see the
	// orders.ordersaga.io/retry annotation). It is part of every message id,
	// so that a command sent again after a manual retry is not mistaken for
	// a duplicate.
	// +optional
	RetryRound int32 `json:"retryRound,omitempty"`

	// lastHandledRetry is the value of the orders.ordersaga.io/retry
	// annotation that was last acted upon.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	LastHandledRetry string `json:"lastHandledRetry,omitempty"`

	// handledRequests are the last SagaRequests the saga handled, oldest
	// first, at most MaxHandledRequests: a request listed here is never
	// applied again, and its outcome is copied to its status from here.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	HandledRequests []HandledRequest `json:"handledRequests,omitempty"`

	// template is the SagaTemplate the saga runs, pinned when it started:
	// its name, the generation it had, and what the saga took from it. The
	// saga runs these steps, whatever the template becomes.
	// +optional
	Template *PinnedTemplate `json:"template,omitempty"`

	// drill is true once a saga that drills a step (spec.steps[].drill) has
	// started: it is a rehearsal of compensation. Its Events, history and
	// lifecycle events say so, and its metrics carry drill="true".
	// +optional
	Drill bool `json:"drill,omitempty"`

	// history is the saga's story, one entry per transition (the Events'
	// reasons), oldest first, written in the status writes the transitions
	// cause anyway. It keeps the last MaxHistory entries; older ones are
	// counted in historyDropped.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=40
	History []HistoryEntry `json:"history,omitempty"`

	// historyDropped counts the oldest history entries left out to keep the
	// history bounded.
	// +optional
	HistoryDropped int32 `json:"historyDropped,omitempty"`

	// publishedThrough is the sequence number of the last history entry
	// whose lifecycle event, if it has one, is known to be published on the
	// broker. Entries after it are published (again, with the same message
	// id) by the next pass: the saga's status is the outbox.
	// +optional
	PublishedThrough int32 `json:"publishedThrough,omitempty"`

	// conditions follow the kstatus conventions: Ready, Reconciling, Stalled,
	// and the domain condition Compensating.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=osaga,categories=ordersaga
// +kubebuilder:selectablefield:JSONPath=`.spec.order.id`
// +kubebuilder:printcolumn:name="Order",type=string,JSONPath=`.spec.order.id`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Step",type=string,JSONPath=`.status.currentStep`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Template",type=string,JSONPath=`.status.template.name`,priority=1
// +kubebuilder:printcolumn:name="Version",type=integer,JSONPath=`.status.template.generation`,priority=1
// +kubebuilder:printcolumn:name="Drill",type=boolean,JSONPath=`.status.drill`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// OrderSaga runs the distributed transaction of one order as a saga: it sends
// each step's command to its participant over RabbitMQ and, when a step
// fails, compensates the completed steps in reverse order.
type OrderSaga struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the order and the steps that carry it out.
	// +required
	Spec OrderSagaSpec `json:"spec"`

	// Atomic status: the apiserver then tracks no field inside it on each
	// write (0.86 of its CPU per saga; docs/benchmarks.md, "Status atomic
	// for field management").

	// status is what the operator observed and did. Only the operator writes
	// it, so server-side apply treats it as one field.
	// +optional
	// +structType=atomic
	Status OrderSagaStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// OrderSagaList is a list of OrderSaga.
type OrderSagaList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []OrderSaga `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &OrderSaga{}, &OrderSagaList{})
		return nil
	})
}

// RunSteps returns the steps the saga runs: those its template had when it
// started (status.template), else its own spec.steps. A saga that names a
// template not pinned yet has none.
func (s *OrderSaga) RunSteps() []SagaStep {
	if s.Status.Template != nil {
		return s.Status.Template.Steps
	}
	return s.Spec.Steps
}

// RunDeadline returns the saga's deadline: its own, else its template's.
func (s *OrderSaga) RunDeadline() Duration {
	if s.Spec.Deadline != "" || s.Status.Template == nil {
		return s.Spec.Deadline
	}
	return s.Status.Template.Deadline
}

// RunTTL returns how long the saga is kept once finished: its own, else its
// template's, else def; ok is false when none says.
func (s *OrderSaga) RunTTL(def *int32) (seconds int32, ok bool) {
	switch {
	case s.Spec.TTLSecondsAfterFinished != nil:
		return *s.Spec.TTLSecondsAfterFinished, true
	case s.Status.Template != nil && s.Status.Template.TTLSecondsAfterFinished != nil:
		return *s.Status.Template.TTLSecondsAfterFinished, true
	case def != nil:
		return *def, true
	}
	return 0, false
}
