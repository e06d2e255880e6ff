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

// The reasons of an OrderSaga are part of the API: dashboards, alerts and
// scripts match on them. There are three vocabularies, one per place a
// reason appears:
//
//   - transition reasons (TransitionReason): the reason of each Kubernetes
//     Event, of each "Saga transition" log line and the reason label of
//     ordersaga_transitions_total;
//   - step reasons: status.steps[].reason (and compensationReason) when the
//     operator, not the participant, decided the outcome;
//   - condition reasons: status.conditions[].reason.
//
// Some strings appear in two vocabularies ("Completed", "Compensated",
// "Cancelled", "RetryRequested", "StepFailed"). They are separate constants
// on purpose: a transition reason names something that happened once, a
// condition reason names why a condition holds for as long as it does, and
// the two do not always cover the same cases (the Event Cancelled is only
// for a saga cancelled before it sent anything, while the condition reason
// Cancelled is for any cancel; the Event StepFailed is a failure reply,
// while the condition reason StepFailed also covers a step that timed out).
// One constant for both would tie the two vocabularies together, so that
// renaming one would silently rename the other.

// TransitionReason names a change in a saga's life. Every transition is
// logged and counted; most become Kubernetes Events, as the --events policy
// says; the quiet ones (StepRetried, StepCompensationRetried) never do.
type TransitionReason string

// Transition reasons of the saga's phase.
const (
	// TransitionStarted: the saga left Pending and sent its first command.
	TransitionStarted TransitionReason = "Started"
	// TransitionCompleted: every step succeeded.
	TransitionCompleted TransitionReason = "Completed"
	// TransitionCompensationStarted: a step failed, the deadline passed, or
	// the saga was cancelled or deleted while running; completed steps are
	// being undone.
	TransitionCompensationStarted TransitionReason = "CompensationStarted"
	// TransitionCancelled: the saga was cancelled or deleted before it sent
	// any command; it ends Compensated with nothing to undo.
	TransitionCancelled TransitionReason = "Cancelled"
	// TransitionCompensated: compensation finished; the saga is Compensated.
	TransitionCompensated TransitionReason = "Compensated"
	// TransitionFailed: a compensation failed for good; the saga waits for
	// a person (see RetryAnnotation).
	TransitionFailed TransitionReason = "Failed"
	// TransitionRetryRequested: a person set RetryAnnotation on a Failed
	// saga, or created a SagaRequest with verb Retry; the failed
	// compensation gets a new round of attempts.
	TransitionRetryRequested TransitionReason = "RetryRequested"
	// TransitionCompensationResumed: a late reply showed that the
	// compensation that had failed succeeded; the saga compensates again.
	TransitionCompensationResumed TransitionReason = "CompensationResumed"
	// TransitionSuspended: spec.suspend was set on a saga that had not
	// finished; nothing is sent until it is resumed.
	TransitionSuspended TransitionReason = "Suspended"
	// TransitionResumed: spec.suspend was cleared; the saga goes on, its
	// timers moved later by the time it was suspended.
	TransitionResumed TransitionReason = "Resumed"
	// TransitionSkipRequested: a SagaRequest (verb Skip) resolved a stuck
	// step or compensation by hand; the saga goes on.
	TransitionSkipRequested TransitionReason = "SkipRequested"
	// TransitionCompensateRequested: a SagaRequest (verb Compensate) undoes
	// a Completed saga; its steps are compensated in reverse order.
	TransitionCompensateRequested TransitionReason = "CompensateRequested"
	// TransitionCancelRequested: a SagaRequest (verb Cancel) stopped a
	// pending or running saga; it compensates.
	TransitionCancelRequested TransitionReason = "CancelRequested"
	// TransitionResumeForwardRequested: a SagaRequest (verb ResumeForward)
	// took a saga whose step failed, with nothing undone yet, back to that
	// step; it runs again with a new round of attempts.
	TransitionResumeForwardRequested TransitionReason = "ResumeForwardRequested"
	// TransitionRequestRefused: a SagaRequest's verb did not apply to the
	// saga as it was; nothing changed but this entry.
	TransitionRequestRefused TransitionReason = "RequestRefused"
	// TransitionNamespaceNotAdmitted: the saga ended before sending anything,
	// because a participant of its steps does not admit its namespace.
	TransitionNamespaceNotAdmitted TransitionReason = "NamespaceNotAdmitted"
)

// Transition reasons of one step.
const (
	// TransitionStepStarted: the step's command was sent (attempt 1).
	TransitionStepStarted TransitionReason = "StepStarted"
	// TransitionStepRetrying: an attempt of the command failed (retryable
	// reply, timeout or unroutable); the next is scheduled.
	TransitionStepRetrying TransitionReason = "StepRetrying"
	// TransitionStepRetried: the next attempt of the command was sent. Quiet.
	TransitionStepRetried TransitionReason = "StepRetried"
	// TransitionStepSucceeded: the participant replied that the command
	// succeeded.
	TransitionStepSucceeded TransitionReason = "StepSucceeded"
	// TransitionStepFailed: the step failed for good: a final failure, or
	// every attempt failed with a retryable failure.
	TransitionStepFailed TransitionReason = "StepFailed"
	// TransitionStepTimedOut: the step failed for good after an attempt that
	// got no reply in time; it will be compensated.
	TransitionStepTimedOut TransitionReason = "StepTimedOut"
	// TransitionStepInterrupted: the saga stopped waiting for the step
	// (cancel, deadline or deletion) after its command was sent; it will be
	// compensated.
	TransitionStepInterrupted TransitionReason = "StepInterrupted"
	// TransitionStepCompensating: the step's compensation was sent
	// (attempt 1).
	TransitionStepCompensating TransitionReason = "StepCompensating"
	// TransitionStepCompensationRetrying: an attempt of the compensation
	// failed; the next is scheduled.
	TransitionStepCompensationRetrying TransitionReason = "StepCompensationRetrying"
	// TransitionStepCompensationRetried: the next attempt of the compensation
	// was sent. Quiet.
	TransitionStepCompensationRetried TransitionReason = "StepCompensationRetried"
	// TransitionStepCompensated: the participant replied that the
	// compensation succeeded.
	TransitionStepCompensated TransitionReason = "StepCompensated"
	// TransitionStepCompensationFailed: the compensation failed for good.
	TransitionStepCompensationFailed TransitionReason = "StepCompensationFailed"
	// TransitionStepBlocked: the step's command or compensation cannot be
	// sent because of its participant (the Blocked condition says why).
	TransitionStepBlocked TransitionReason = "StepBlocked"
)

// Step reasons: the codes the operator records in status.steps[].reason (or
// compensationReason) when it decides an attempt's outcome itself. Any other
// reason there comes from the participant's reply.
const (
	// StepReasonTimeout: no reply came within the step's timeout.
	StepReasonTimeout = "Timeout"
	// StepReasonUnroutable: no queue is bound to the message's routing key,
	// so the broker returned it; the attempt cannot have taken effect.
	StepReasonUnroutable = "Unroutable"
	// StepReasonRetryableFailure: the participant replied "retryable"
	// without a reason.
	StepReasonRetryableFailure = "RetryableFailure"
	// StepReasonFailure: the participant replied "failed" without a reason.
	StepReasonFailure = "Failure"
	// StepReasonSkipped: a SagaRequest (verb Skip) resolved the step's
	// command or compensation by hand; the message is the request's note.
	StepReasonSkipped = "SkippedByRequest"
)

// Condition reasons: the reasons of status.conditions.
const (
	// ReasonPending surfaces on Ready and Reconciling before the first command
	// is sent.
	ReasonPending = "Pending"

	// ReasonRunning surfaces on Ready and Reconciling while steps execute.
	ReasonRunning = "Running"

	// ReasonCompleted surfaces on Ready (True) when every step succeeded.
	ReasonCompleted = "Completed"

	// ReasonCompensating surfaces on Ready and Reconciling while completed
	// steps are being undone, and on Compensating when a saga that failed
	// resumes because a late reply showed the compensation succeeded.
	ReasonCompensating = "Compensating"

	// ReasonCompensated surfaces on Ready and Stalled when the saga ended by
	// undoing its completed steps, and on Compensating (False) once they are.
	ReasonCompensated = "Compensated"

	// ReasonCompensationFailed surfaces on Ready, Stalled and Compensating when
	// a compensation failed on every attempt. The saga waits for a person: see
	// RetryAnnotation.
	ReasonCompensationFailed = "CompensationFailed"

	// ReasonStepFailed surfaces on Compensating when a step failed or timed out
	// on its last attempt.
	ReasonStepFailed = "StepFailed"

	// ReasonCancelled surfaces on Compensating when spec.cancel was set.
	ReasonCancelled = "Cancelled"

	// ReasonDeadlineExceeded surfaces on Compensating when spec.deadline passed
	// before the last step succeeded.
	ReasonDeadlineExceeded = "DeadlineExceeded"

	// ReasonRetryRequested surfaces on Compensating when a person asked, with
	// RetryAnnotation, for another round of a failed compensation.
	ReasonRetryRequested = "RetryRequested"

	// ReasonCompensateRequested surfaces on Compensating when a SagaRequest
	// (verb Compensate) undoes a Completed saga.
	ReasonCompensateRequested = "CompensateRequested"

	// ReasonCancelRequested surfaces on Compensating when a SagaRequest
	// (verb Cancel) stopped the saga.
	ReasonCancelRequested = "CancelRequested"

	// ReasonSkipRequested surfaces on Compensating when a SagaRequest (verb
	// Skip) resolved the compensation that had failed, and the saga goes on
	// compensating.
	ReasonSkipRequested = "SkipRequested"

	// ReasonDeleted surfaces on Compensating when the saga was deleted while
	// running; the finalizer is released once compensation ends.
	ReasonDeleted = "Deleted"

	// ReasonNamespaceNotAdmitted surfaces on Compensating when a participant
	// of the saga's steps does not admit its namespace: no command is sent to
	// it, and what the saga did is compensated.
	ReasonNamespaceNotAdmitted = "NamespaceNotAdmitted"

	// ReasonParticipantNotRegistered surfaces on Blocked while a step's
	// service has no Participant: nothing is sent until one is registered.
	ReasonParticipantNotRegistered = "ParticipantNotRegistered"

	// ReasonCommandNotDeclared surfaces on Blocked while a step's Participant
	// does not declare its command or compensation.
	ReasonCommandNotDeclared = "CommandNotDeclared"

	// ReasonParticipantSuspended surfaces on Blocked while a step's
	// Participant is suspended; the saga's timers are paused meanwhile.
	ReasonParticipantSuspended = "ParticipantSuspended"

	// ReasonBrokerUnavailable surfaces on Blocked while no command can leave
	// (the broker is disconnected or blocks publishing); the saga's timers
	// are paused meanwhile.
	ReasonBrokerUnavailable = "BrokerUnavailable"

	// ReasonTemplateNotFound surfaces on Blocked while the SagaTemplate a
	// saga names does not exist: the saga stays Pending until it does.
	ReasonTemplateNotFound = "TemplateNotFound"
)

// Condition reasons of a Participant.
const (
	// ReasonConsuming surfaces on Ready (True): the queue is declared and
	// bound and has at least one consumer.
	ReasonConsuming = "Consuming"

	// ReasonNoConsumer surfaces on Ready when no consumer is attached to the
	// queue: commands wait there.
	ReasonNoConsumer = "NoConsumer"

	// ReasonSuspended surfaces on a Participant's Ready, and on an
	// OrderSaga's Suspended, while its spec.suspend is set.
	ReasonSuspended = "Suspended"

	// ReasonTopologyFailed surfaces on Ready and Reconciling when the queue,
	// the exchange or a binding could not be declared; the operator tries
	// again.
	ReasonTopologyFailed = "TopologyFailed"

	// ReasonQueueArgumentsDiffer surfaces on Ready and Stalled when the
	// queue exists with other arguments than the operator's (declared by an
	// older SDK or by hand): a person drains and deletes it.
	ReasonQueueArgumentsDiffer = "QueueArgumentsDiffer"
)

// Reasons of compensation drills (spec.steps[].drill), in each vocabulary.
const (
	// TransitionStepDrilled: the saga reached a drilled step and failed it
	// on purpose without sending its command; compensation starts.
	TransitionStepDrilled TransitionReason = "StepDrilled"

	// StepReasonDrill: the step failed on purpose (a compensation drill);
	// its command was not sent.
	StepReasonDrill = "Drill"

	// ReasonDrill surfaces on Compensating while the saga compensates
	// because a drilled step failed on purpose.
	ReasonDrill = "Drill"
)
