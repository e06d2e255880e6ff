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

package saga

import (
	"math/rand/v2"
	"time"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Event is something that moves a saga: time passing, a reply, a failed
// dispatch, a cancel, a retry request, or its timers pausing and resuming.
type Event interface{ isEvent() }

// Tick is time passing: it starts a new saga, sends the next command, fires
// timeouts, retries and the deadline, and finishes a saga whose work is done.
// The controller applies a Tick on every pass, after the other events,
// unless the timers are to stay paused. While they are paused a Tick sends
// nothing and nothing comes due.
type Tick struct{}

// PauseTimers stops the saga's clock while the operator cannot send or
// receive (the broker is unreachable), so that no step fails and no
// deadline passes for that: no timeout, retry or deadline comes due and no
// message is sent until ResumeTimers; replies, failed dispatches and cancels
// are still applied. The first PauseTimers records status.timersPausedAt;
// more change nothing. A pending or finished saga has no timer running and
// is left alone. Like a paused Tick, it finishes a saga whose work is done.
type PauseTimers struct {
	// Since is when the operator lost the broker; zero (or later than now)
	// means now. A timer due before Since still fires on resume.
	Since time.Time
	// Reason and Message, when set, are the Blocked condition's while the
	// timers stay paused (for example ParticipantSuspended).
	Reason, Message string
}

// ResumeTimers ends a pause: every timeout and backoff still running, and
// the deadline, move later by the length of the pause. Apply it before the
// Tick of the first pass that can send again. It does nothing to a saga that
// is not paused.
type ResumeTimers struct{}

// Cancel stops a running saga and compensates it. Reason is
// ReasonCancelled (spec.cancel) or ReasonDeleted (the object is deleted).
type Cancel struct{ Reason string }

// RetryRequested is a person's request, through RetryAnnotation, for another
// round of a failed compensation. Token is the annotation's value.
type RetryRequested struct{ Token string }

// ReplyReceived is a participant's reply.
type ReplyReceived struct {
	// Headers are the saga headers the participant copied from the command.
	Headers protocol.Headers
	// CorrelationID is the message id of the command the reply answers.
	CorrelationID string
	// UserID is the AMQP user_id of the reply, which RabbitMQ checks
	// against the user of the connection that published it.
	UserID string
	Reply  protocol.Reply
}

// DispatchFailed reports that a sent message could not reach a participant,
// for example because no queue is bound to its routing key.
type DispatchFailed struct {
	Step      string
	MessageID string
	// Reason is a step reason such as ordersv1alpha1.StepReasonUnroutable.
	Reason  string
	Message string
}

func (Tick) isEvent()           {}
func (PauseTimers) isEvent()    {}
func (ResumeTimers) isEvent()   {}
func (Cancel) isEvent()         {}
func (RetryRequested) isEvent() {}
func (ReplyReceived) isEvent()  {}
func (DispatchFailed) isEvent() {}

// Verdict says what became of a reply or a dispatch failure.
type Verdict int

const (
	// NotAReply: the event was not a reply.
	NotAReply Verdict = iota
	// Applied: the event answered the message the step awaits and changed it.
	Applied
	// Duplicate: the event answers a message whose outcome is already known,
	// or an earlier attempt; it changes nothing and can be acknowledged.
	Duplicate
	// Unauthenticated: the reply answers a message of the saga but does not
	// come from the broker user its participant registered; it is not taken.
	Unauthenticated
	// Unmatched: no message recorded in the status is answered by the event.
	// Either the status read is older than the command (read it again) or
	// the reply is not genuine (dead-letter it).
	Unmatched
)

func (v Verdict) String() string {
	switch v {
	case Applied:
		return "Applied"
	case Duplicate:
		return "Duplicate"
	case Unmatched:
		return "Unmatched"
	case Unauthenticated:
		return "Unauthenticated"
	default:
		return "NotAReply"
	}
}

// Dispatch is a message to send to a participant.
type Dispatch struct {
	Step      string
	StepIndex int
	Kind      protocol.Kind
	Round     int32
	Attempt   int32
	MessageID string
	// DispatchedAt is when the status recorded the message as sent: the
	// message's timestamp, the same on every copy sent.
	DispatchedAt time.Time
	// Deadline is when the saga stops waiting for the reply: the step's
	// timeoutAt. A pause of the timers moves it later, so a copy sent after
	// a pause carries the later deadline.
	Deadline time.Time
}

// Transition is a change worth telling: it becomes a Kubernetes Event, a log
// line and metrics.
type Transition struct {
	// Reason is the Event reason.
	Reason ordersv1alpha1.TransitionReason
	// Warning marks a transition that is bad news for the order.
	Warning bool
	// Quiet marks a routine transition (a retry sent) that is counted and
	// logged in detail but not recorded as an Event.
	Quiet bool
	// Step is the step concerned; empty for a change of the saga's phase.
	Step    string
	Kind    protocol.Kind
	Attempt int32
	// StepIndex is the step's index in spec and status, when Step is set.
	StepIndex int
	// MessageID is the id of the step's last message, when Step is set.
	MessageID string
	// From and To are phases (saga) or step states (step).
	From, To string
	Message  string
	// Request is the name of the SagaRequest that caused the transition,
	// if one did.
	Request string
}

// Outcome is what one Apply decided.
type Outcome struct {
	Transitions []Transition
	// Verdict is set for ReplyReceived and DispatchFailed.
	Verdict Verdict
	// RequeueAt is when the saga must be looked at again if nothing else
	// happens (a timeout, a backoff, the deadline); zero if never.
	RequeueAt time.Time
}

// Machine applies events to sagas.
type Machine struct {
	// Jitter returns a number in [0, 1) that spreads retries; nil uses
	// math/rand. Tests fix it.
	Jitter func() float64
	// Participants is the registry for the saga of this Apply: it gates
	// what may be sent, says who may reply, and gives per-command defaults.
	// Nil lets everything through.
	Participants Participants
}

// Apply applies ev to saga at time now, updating saga.Status in place, and
// returns what to do. It has no side effects beyond saga.Status.
func (m Machine) Apply(saga *ordersv1alpha1.OrderSaga, now time.Time, ev Event) Outcome {
	r := &run{m: m, saga: saga, st: &saga.Status, now: now}
	r.ensureRecords()
	switch e := ev.(type) {
	case Tick:
		r.tick()
	case PauseTimers:
		r.pauseTimers(e.Since)
		if e.Reason != "" && r.paused() {
			r.blockTimers(e.Reason, e.Message)
		}
	case ResumeTimers:
		r.resumeTimers()
	case Suspend:
		r.suspend()
	case Resume:
		r.resume()
	case Cancel:
		r.cancel(e.Reason)
	case RetryRequested:
		r.retry(e.Token)
	case VerbRequested:
		r.verb(e)
	case ReplyReceived:
		r.out.Verdict = r.reply(e)
	case DispatchFailed:
		r.out.Verdict = r.dispatchFailed(e)
	}
	r.recordHistory()
	r.out.RequeueAt = r.nextWake()
	syncConditions(saga, r.attemptLimit)
	return r.out
}

// run is the state of one Apply.
type run struct {
	m    Machine
	saga *ordersv1alpha1.OrderSaga
	st   *ordersv1alpha1.OrderSagaStatus
	now  time.Time
	out  Outcome
	// blocked says a step could not be sent in this Apply (see gate): no
	// timer of its wakes the saga, its participant's change does.
	blocked bool
}

func (r *run) jitter() float64 {
	if r.m.Jitter != nil {
		return r.m.Jitter()
	}
	return rand.Float64() //nolint:gosec // spreading retries needs no cryptographic randomness
}

// ensureRecords gives the status one record per step, in spec order. Steps
// are immutable, so this only ever fills a status that has none yet.
func (r *run) ensureRecords() {
	if len(r.st.Steps) == len(r.saga.RunSteps()) {
		return
	}
	old := map[string]ordersv1alpha1.StepStatus{}
	for _, rec := range r.st.Steps {
		old[rec.Name] = rec
	}
	r.st.Steps = make([]ordersv1alpha1.StepStatus, len(r.saga.RunSteps()))
	for i, step := range r.saga.RunSteps() {
		rec, ok := old[step.Name]
		if !ok {
			rec = ordersv1alpha1.StepStatus{Name: step.Name, State: ordersv1alpha1.StepPending}
		}
		r.st.Steps[i] = rec
	}
}

func (r *run) setPhase(to ordersv1alpha1.SagaPhase, reason ordersv1alpha1.TransitionReason, warning bool, message string) {
	from := r.st.Phase
	if from == to {
		return
	}
	r.st.Phase = to
	if to.IsFinal() {
		r.endPause() // a finished saga has no timer to pause
		r.unblock()  // nor anything left to send
		r.st.CurrentStep = ""
		r.st.CompletionTime = ptrMicro(r.now)
	} else {
		r.st.CompletionTime = nil
	}
	r.out.Transitions = append(r.out.Transitions, Transition{
		Reason: reason, Warning: warning, From: string(from), To: string(to), Message: message,
	})
}

func (r *run) stepTransition(i int, kind protocol.Kind, reason ordersv1alpha1.TransitionReason, warning bool,
	from ordersv1alpha1.StepState, message string) {
	rec := &r.st.Steps[i]
	attempt := rec.Attempts
	if kind == protocol.KindCompensation {
		attempt = rec.CompensationAttempts
	}
	r.out.Transitions = append(r.out.Transitions, Transition{
		Reason: reason, Warning: warning, Step: rec.Name, StepIndex: i, Kind: kind, Attempt: attempt,
		MessageID: rec.MessageID, From: string(from), To: string(rec.State), Message: message,
	})
}

// setOutcome records the outcome of the step's command or of its
// compensation, each in its own fields, so that the reason a step failed or
// timed out survives its compensation.
func setOutcome(rec *ordersv1alpha1.StepStatus, kind protocol.Kind, reason, message string) {
	message = truncate(message, ordersv1alpha1.MaxMessageLength)
	if kind == protocol.KindCompensation {
		rec.CompensationReason, rec.CompensationMessage = reason, message
		return
	}
	rec.Reason, rec.Message = reason, message
}

// Initialize gives a saga that has not started its first status: Pending,
// one record per step, and the conditions of a saga with work to do.
func Initialize(saga *ordersv1alpha1.OrderSaga) {
	r := &run{saga: saga, st: &saga.Status}
	r.ensureRecords()
	if saga.Status.Phase == "" {
		saga.Status.Phase = ordersv1alpha1.PhasePending
	}
	syncConditions(saga, r.attemptLimit)
}

// attemptLimit is how many attempts step i's command or compensation gets.
func (r *run) attemptLimit(i int, kind protocol.Kind) int32 { return maxAttempts(r.policy(i, kind)) }
