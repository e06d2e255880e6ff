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

func (r *run) tick() {
	if r.st.Phase == "" || r.st.Phase == ordersv1alpha1.PhasePending {
		if service, ok := r.admitted(); !ok {
			r.reject(service)
			return
		}
		r.st.StartTime = ptrMicro(r.now)
		r.markDrill()
		r.setPhase(ordersv1alpha1.PhaseRunning, ordersv1alpha1.TransitionStarted, false,
			fmt.Sprintf("Saga for order %s started with %d steps", r.saga.Spec.Order.ID, len(r.saga.RunSteps())))
	}
	switch r.st.Phase {
	case ordersv1alpha1.PhaseRunning:
		r.advance()
	case ordersv1alpha1.PhaseCompensating:
		r.compensate()
	}
}

// advance moves the forward path: the deadline, then every step whose
// dependencies are done (see dependencies): a pending one is sent, a
// running one awaits its reply or retry. In a sequential saga that is the
// first step that has not succeeded. While the timers are paused it only
// completes a saga whose steps all succeeded: nothing comes due and nothing
// is sent.
func (r *run) advance() {
	if deadline, ok := Deadline(r.saga, r.now); ok && !r.paused() && !r.now.Before(deadline) {
		r.beginCompensation(ordersv1alpha1.ReasonDeadlineExceeded,
			fmt.Sprintf("Deadline of %s passed before every step succeeded", r.saga.RunDeadline()))
		return
	}
	done := true
	current := ""
	for i := range r.st.Steps {
		rec := &r.st.Steps[i]
		switch rec.State {
		case ordersv1alpha1.StepSucceeded, ordersv1alpha1.StepSkipped:
			continue // a step is Skipped while running only by a SagaRequest
		case ordersv1alpha1.StepPending:
			done = false
			if !r.ready(i) {
				continue
			}
			if current == "" {
				current = rec.Name // the step the saga is at, paused or not
			}
			if r.paused() {
				continue // sent once the timers resume
			}
			if r.drill(i) {
				return // failed on purpose: nothing is sent
			}
			r.dispatch(i, protocol.KindCommand, 1)
		case ordersv1alpha1.StepRunning:
			done = false
			if current == "" {
				current = rec.Name
			}
			r.progress(i, protocol.KindCommand, rec.Attempts)
		default:
			done = false
		}
		if r.st.Phase != ordersv1alpha1.PhaseRunning {
			return // a step failed: compensation has begun
		}
	}
	if current != "" {
		r.st.CurrentStep = current
	}
	if !done {
		return
	}
	message := fmt.Sprintf("All %d steps succeeded", len(r.st.Steps))
	if skipped := r.count(ordersv1alpha1.StepSkipped); skipped > 0 {
		message = fmt.Sprintf("%d steps succeeded, %d skipped by request", len(r.st.Steps)-skipped, skipped)
	}
	r.setPhase(ordersv1alpha1.PhaseCompleted, ordersv1alpha1.TransitionCompleted, false, message)
}

// count is how many steps are in state.
func (r *run) count(state ordersv1alpha1.StepState) int {
	n := 0
	for _, rec := range r.st.Steps {
		if rec.State == state {
			n++
		}
	}
	return n
}

// progress handles a step that awaits a reply or a retry: it sends the next
// attempt once the backoff has passed, or fails the attempt on timeout.
// Nothing comes due while the timers are paused.
func (r *run) progress(i int, kind protocol.Kind, attempts int32) {
	if r.paused() {
		return
	}
	rec := &r.st.Steps[i]
	if rec.NextAttemptAt != nil {
		if !r.now.Before(rec.NextAttemptAt.Time) {
			r.dispatch(i, kind, attempts+1)
		}
		return
	}
	if rec.DispatchedAt != nil && !r.now.Before(replyDue(*rec, r.saga.RunSteps()[i])) {
		if kind == protocol.KindCommand {
			rec.TimedOutAttempts++
		}
		r.attemptFailed(i, kind, ordersv1alpha1.StepReasonTimeout,
			fmt.Sprintf("No reply to attempt %d within %s", attempts, r.timeout(i, kind)), true)
	}
}

// dispatch records that attempt of step i's command or compensation is sent
// now, and lists it for sending. The status is written before the message
// is sent, so the message id is known before anyone can answer it.
func (r *run) dispatch(i int, kind protocol.Kind, attempt int32) {
	if !r.gate(i, kind) {
		return
	}
	rec := &r.st.Steps[i]
	step := r.saga.RunSteps()[i]
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
	rec.TimeoutAt = ptrMicro(r.timerNow().Add(r.timeout(i, kind)))
	if attempt > 1 {
		// The retry was announced when the attempt failed; count it quietly.
		reason := ordersv1alpha1.TransitionStepRetried
		if kind == protocol.KindCompensation {
			reason = ordersv1alpha1.TransitionStepCompensationRetried
		}
		r.out.Transitions = append(r.out.Transitions, Transition{Reason: reason, Quiet: true, Step: rec.Name, StepIndex: i, Kind: kind, MessageID: rec.MessageID,
			Attempt: attempt, From: string(from), To: string(rec.State), Message: fmt.Sprintf("Sent attempt %d", attempt)})
		return
	}
	if kind == protocol.KindCommand {
		r.stepTransition(i, kind, ordersv1alpha1.TransitionStepStarted, false, from,
			fmt.Sprintf("Sent %s to %s", step.Command.Name, step.Service))
	} else {
		r.stepTransition(i, kind, ordersv1alpha1.TransitionStepCompensating, false, from,
			fmt.Sprintf("Sent %s to %s", step.Compensation.Name, step.Service))
	}
}

// attemptFailed handles an attempt that did not succeed but may be retried:
// a retryable failure, a timeout or an unroutable message. unknown says
// whether the attempt may have taken effect (a timeout).
func (r *run) attemptFailed(i int, kind protocol.Kind, reason, message string, unknown bool) {
	rec := &r.st.Steps[i]
	policy := r.policy(i, kind)
	attempts := rec.Attempts
	if kind == protocol.KindCompensation {
		attempts = rec.CompensationAttempts
	}
	setOutcome(rec, kind, reason, message)
	rec.TimeoutAt = nil
	if kind == protocol.KindCommand && r.st.Phase == ordersv1alpha1.PhaseCompensating {
		// Another step failed while this one was in flight: no new attempt.
		if unknown {
			rec.TimedOutAttempts++
		}
		r.interrupt(i)
		return
	}
	if attempts < maxAttempts(policy) {
		delay := backoff(policy, attempts, r.jitter())
		rec.NextAttemptAt = ptrMicro(r.timerNow().Add(delay))
		what := "Attempt"
		retryReason := ordersv1alpha1.TransitionStepRetrying
		if kind == protocol.KindCompensation {
			what, retryReason = "Compensation attempt", ordersv1alpha1.TransitionStepCompensationRetrying
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
		r.stepTransition(i, kind, ordersv1alpha1.TransitionStepCompensationFailed, true, from,
			fmt.Sprintf("Compensation failed after %d attempts: %s: %s", attempts, reason, message))
		r.failSaga(i)
		return
	}
	rec.State = ordersv1alpha1.StepFailed
	outcome := ordersv1alpha1.TransitionStepFailed
	if unknown || rec.TimedOutAttempts > 0 {
		// An attempt got no reply: it may still have taken effect.
		rec.State, outcome = ordersv1alpha1.StepTimedOut, ordersv1alpha1.TransitionStepTimedOut
	}
	r.stepTransition(i, kind, outcome, true, from,
		fmt.Sprintf("Failed after %d attempts: %s: %s", attempts, reason, message))
	r.beginCompensation(ordersv1alpha1.ReasonStepFailed,
		fmt.Sprintf("Step %s failed: %s: %s", rec.Name, reason, message))
}
