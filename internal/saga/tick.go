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
	"fmt"
	"time"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Reasons the operator records on a step.
const (
	// ReasonTimeout: no reply came within the step's timeout.
	ReasonTimeout = "Timeout"
	// ReasonUnroutable: no queue is bound to the command's routing key.
	ReasonUnroutable = "Unroutable"
	// ReasonRetryableFailure: the participant replied "retryable" without a reason.
	ReasonRetryableFailure = "RetryableFailure"
	// ReasonFailure: the participant replied "failed" without a reason.
	ReasonFailure = "Failure"
)

func (r *run) tick() {
	if r.st.Phase == "" || r.st.Phase == ordersv1alpha1.PhasePending {
		r.st.StartTime = ptrMicro(r.now)
		r.setPhase(ordersv1alpha1.PhaseRunning, "Started", false,
			fmt.Sprintf("Saga for order %s started with %d steps", r.saga.Spec.Order.ID, len(r.saga.Spec.Steps)))
	}
	switch r.st.Phase {
	case ordersv1alpha1.PhaseRunning:
		r.advance()
	case ordersv1alpha1.PhaseCompensating:
		r.compensate()
	}
}

// advance moves the forward path: the deadline, then the first step that has
// not succeeded.
func (r *run) advance() {
	if deadline, ok := r.deadline(); ok && !r.now.Before(deadline) {
		r.beginCompensation(ordersv1alpha1.ReasonDeadlineExceeded,
			fmt.Sprintf("Deadline of %s passed before every step succeeded", r.saga.Spec.Deadline))
		return
	}
	for i := range r.st.Steps {
		rec := &r.st.Steps[i]
		switch rec.State {
		case ordersv1alpha1.StepSucceeded:
			continue
		case ordersv1alpha1.StepPending:
			r.st.CurrentStep = rec.Name
			r.dispatch(i, protocol.KindCommand, 1)
		case ordersv1alpha1.StepRunning:
			r.st.CurrentStep = rec.Name
			r.progress(i, protocol.KindCommand, rec.Attempts)
		}
		return
	}
	r.setPhase(ordersv1alpha1.PhaseCompleted, "Completed", false,
		fmt.Sprintf("All %d steps succeeded", len(r.st.Steps)))
}

// progress handles a step that awaits a reply or a retry: it sends the next
// attempt once the backoff has passed, or fails the attempt on timeout.
func (r *run) progress(i int, kind protocol.Kind, attempts int32) {
	rec := &r.st.Steps[i]
	if rec.NextAttemptAt != nil {
		if !r.now.Before(rec.NextAttemptAt.Time) {
			r.dispatch(i, kind, attempts+1)
		}
		return
	}
	if rec.DispatchedAt != nil && !r.now.Before(rec.DispatchedAt.Add(r.timeout(i))) {
		if kind == protocol.KindCommand {
			rec.TimedOutAttempts++
		}
		r.attemptFailed(i, kind, ReasonTimeout,
			fmt.Sprintf("No reply to attempt %d within %s", attempts, r.timeout(i)), true)
	}
}

// dispatch records that attempt of step i's command or compensation is sent
// now, and lists it for sending. The status is written before the message
// is sent, so the message id is known before anyone can answer it.
func (r *run) dispatch(i int, kind protocol.Kind, attempt int32) {
	rec := &r.st.Steps[i]
	step := r.saga.Spec.Steps[i]
	from := rec.State
	now := ptrMicro(r.now)
	if kind == protocol.KindCommand {
		rec.State = ordersv1alpha1.StepRunning
		rec.Attempts = attempt
		if attempt == 1 {
			rec.StartedAt = now
		}
	} else {
		rec.State = ordersv1alpha1.StepCompensating
		rec.CompensationAttempts = attempt
	}
	rec.MessageID = protocol.MessageID(string(r.saga.UID), rec.Name, kind, r.st.RetryRound, attempt)
	rec.DispatchedAt = now
	rec.NextAttemptAt = nil
	d := Dispatch{Step: rec.Name, StepIndex: i, Kind: kind, Round: r.st.RetryRound, Attempt: attempt,
		MessageID: rec.MessageID, DispatchedAt: r.now, Deadline: r.now.Add(r.timeout(i))}
	r.out.Dispatches = append(r.out.Dispatches, d)
	if attempt > 1 {
		// The retry was announced when the attempt failed; count it quietly.
		reason := "StepRetried"
		if kind == protocol.KindCompensation {
			reason = "StepCompensationRetried"
		}
		r.out.Transitions = append(r.out.Transitions, Transition{Reason: reason, Quiet: true, Step: rec.Name, Kind: kind,
			Attempt: attempt, From: string(from), To: string(rec.State), Message: fmt.Sprintf("Sent attempt %d", attempt)})
		return
	}
	if kind == protocol.KindCommand {
		r.stepTransition(i, kind, "StepStarted", false, from,
			fmt.Sprintf("Sent %s to %s", step.Command.Name, step.Service))
	} else {
		r.stepTransition(i, kind, "StepCompensating", false, from,
			fmt.Sprintf("Sent %s to %s", step.Compensation.Name, step.Service))
	}
}

// attemptFailed handles an attempt that did not succeed but may be retried:
// a retryable failure, a timeout or an unroutable message. unknown says
// whether the attempt may have taken effect (a timeout).
func (r *run) attemptFailed(i int, kind protocol.Kind, reason, message string, unknown bool) {
	rec := &r.st.Steps[i]
	policy := r.saga.Spec.Steps[i].Retry
	attempts := rec.Attempts
	if kind == protocol.KindCompensation {
		attempts = rec.CompensationAttempts
	}
	rec.Reason, rec.Message = reason, truncate(message, ordersv1alpha1.MaxMessageLength)
	if attempts < maxAttempts(policy) {
		delay := backoff(policy, attempts, r.jitter())
		rec.NextAttemptAt = ptrMicro(r.now.Add(delay))
		what := "Attempt"
		retryReason := "StepRetrying"
		if kind == protocol.KindCompensation {
			what, retryReason = "Compensation attempt", "StepCompensationRetrying"
		}
		r.stepTransition(i, kind, retryReason, true, rec.State,
			fmt.Sprintf("%s %d of %d failed (%s: %s); next in %s", what, attempts, maxAttempts(policy),
				reason, message, delay.Round(time.Millisecond)))
		return
	}
	from := rec.State
	rec.CompletedAt = ptrMicro(r.now)
	rec.NextAttemptAt = nil
	if kind == protocol.KindCompensation {
		rec.State = ordersv1alpha1.StepCompensationFailed
		r.stepTransition(i, kind, "StepCompensationFailed", true, from,
			fmt.Sprintf("Compensation failed after %d attempts: %s: %s", attempts, reason, message))
		r.failSaga(i)
		return
	}
	rec.State = ordersv1alpha1.StepFailed
	outcome := "StepFailed"
	if unknown || rec.TimedOutAttempts > 0 {
		// An attempt got no reply: it may still have taken effect.
		rec.State, outcome = ordersv1alpha1.StepTimedOut, "StepTimedOut"
	}
	r.stepTransition(i, kind, outcome, true, from,
		fmt.Sprintf("Failed after %d attempts: %s: %s", attempts, reason, message))
	r.beginCompensation(ordersv1alpha1.ReasonStepFailed,
		fmt.Sprintf("Step %s failed: %s: %s", rec.Name, reason, message))
}

func (r *run) timeout(i int) time.Duration { return stepTimeout(r.saga.Spec.Steps[i]) }

// stepTimeout is the wait for the reply to one attempt of the step.
func stepTimeout(step ordersv1alpha1.SagaStep) time.Duration {
	if d := step.Timeout.Get(); d > 0 {
		return d
	}
	return defaultTimeout
}

// deadline returns when the forward path must be done, if the saga has a
// deadline and has started.
func (r *run) deadline() (time.Time, bool) {
	d := r.saga.Spec.Deadline.Get()
	if d <= 0 || r.st.StartTime == nil {
		return time.Time{}, false
	}
	return r.st.StartTime.Add(d), true
}

// nextWake returns the earliest time something is due: a timeout, the end of
// a backoff or the deadline.
func (r *run) nextWake() time.Time {
	var wake time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}
	switch r.st.Phase {
	case ordersv1alpha1.PhaseRunning:
		if d, ok := r.deadline(); ok {
			earliest(d)
		}
		for i := range r.st.Steps {
			if r.st.Steps[i].State == ordersv1alpha1.StepRunning {
				earliest(r.due(i))
			}
		}
	case ordersv1alpha1.PhaseCompensating:
		for i := range r.st.Steps {
			if r.st.Steps[i].State == ordersv1alpha1.StepCompensating {
				earliest(r.due(i))
			}
		}
	}
	return wake
}

// due is when step i next needs attention: its retry or its timeout.
func (r *run) due(i int) time.Time {
	rec := r.st.Steps[i]
	switch {
	case rec.NextAttemptAt != nil:
		return rec.NextAttemptAt.Time
	case rec.DispatchedAt != nil:
		return rec.DispatchedAt.Add(r.timeout(i))
	default:
		return r.now
	}
}
