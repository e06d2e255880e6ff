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

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// beginCompensation stops the forward path and starts undoing it. Steps not
// started are skipped; a step whose command was sent but not answered is
// Interrupted: its effect is unknown, so it is compensated too.
func (r *run) beginCompensation(reason, message string) {
	if r.st.Phase != ordersv1alpha1.PhaseRunning {
		return
	}
	// A failed step lets the commands of other steps still in flight finish
	// (compensate waits for them); a cancel or the deadline stops waiting.
	failure := reason == ordersv1alpha1.ReasonStepFailed || reason == ordersv1alpha1.ReasonDrill
	for i := range r.st.Steps {
		rec := &r.st.Steps[i]
		switch rec.State {
		case ordersv1alpha1.StepPending:
			rec.State = ordersv1alpha1.StepSkipped
		case ordersv1alpha1.StepRunning:
			if !failure {
				r.interrupt(i)
			}
		}
	}
	r.setCompensating(metav1.ConditionTrue, reason, message)
	r.setPhase(ordersv1alpha1.PhaseCompensating, ordersv1alpha1.TransitionCompensationStarted, true, message)
	r.compensate()
}

// compensate undoes, in reverse order of completion and one at a time,
// every step that succeeded, timed out or was interrupted and has a
// compensation, once no command of the forward path is in flight. While the
// timers are paused it sends nothing; it only ends a compensation that has
// nothing left to undo.
func (r *run) compensate() {
	if r.awaitInFlight() {
		return // a failure waits for the other steps' commands in flight
	}
	for _, i := range r.compensationOrder() {
		rec := &r.st.Steps[i]
		switch rec.State {
		case ordersv1alpha1.StepCompensating:
			r.st.CurrentStep = rec.Name
			r.progress(i, protocol.KindCompensation, rec.CompensationAttempts)
			return
		case ordersv1alpha1.StepSucceeded, ordersv1alpha1.StepTimedOut, ordersv1alpha1.StepInterrupted:
			if r.saga.RunSteps()[i].Compensation == nil {
				continue // a step without a compensation is not undone
			}
			r.st.CurrentStep = rec.Name // the step the saga is at, paused or not
			if r.paused() {
				return // sent once the timers resume
			}
			r.dispatch(i, protocol.KindCompensation, 1)
			return
		}
	}
	cause := compensationCause(r.saga)
	r.setCompensating(metav1.ConditionFalse, ordersv1alpha1.ReasonCompensated, "Compensation finished. "+cause)
	r.setPhase(ordersv1alpha1.PhaseCompensated, ordersv1alpha1.TransitionCompensated, true, "Every completed step was compensated. "+cause)
}

// failSaga ends the saga Failed after step i's compensation failed for good.
func (r *run) failSaga(i int) {
	rec := r.st.Steps[i]
	message := fmt.Sprintf("Compensation of step %s failed: %s: %s. Set the %s annotation to retry",
		rec.Name, rec.CompensationReason, rec.CompensationMessage, ordersv1alpha1.RetryAnnotation)
	r.setCompensating(metav1.ConditionFalse, ordersv1alpha1.ReasonCompensationFailed, message)
	r.setPhase(ordersv1alpha1.PhaseFailed, ordersv1alpha1.TransitionFailed, true, message)
}

// cancel compensates a saga that is pending or running; a saga that already
// compensates or has finished is left alone.
func (r *run) cancel(reason string) {
	message := "Cancel requested (spec.cancel)"
	if reason == ordersv1alpha1.ReasonDeleted {
		message = "Saga deleted while running"
	}
	switch r.st.Phase {
	case "", ordersv1alpha1.PhasePending:
		r.cancelPending(message)
	case ordersv1alpha1.PhaseRunning:
		r.beginCompensation(reason, message)
	}
}

// cancelPending ends a saga that has sent nothing: every step is skipped.
func (r *run) cancelPending(message string) {
	for i := range r.st.Steps {
		r.st.Steps[i].State = ordersv1alpha1.StepSkipped
	}
	r.setCompensating(metav1.ConditionFalse, ordersv1alpha1.ReasonCompensated, message+" before any command was sent")
	r.setPhase(ordersv1alpha1.PhaseCompensated, ordersv1alpha1.TransitionCancelled, true, message+" before any command was sent")
}

// reject ends a pending saga before it sends anything, because the
// participant of one of its steps does not admit its namespace.
func (r *run) reject(service string) {
	message := notAdmitted(r.saga, service) + ": no command was sent"
	for i := range r.st.Steps {
		r.st.Steps[i].State = ordersv1alpha1.StepSkipped
	}
	r.setCompensating(metav1.ConditionFalse, ordersv1alpha1.ReasonNamespaceNotAdmitted, message)
	r.setPhase(ordersv1alpha1.PhaseCompensated, ordersv1alpha1.TransitionNamespaceNotAdmitted, true, message)
}

// retry gives a failed compensation a new round of attempts, once per new
// token. The token is recorded whatever the phase, so that an annotation set
// earlier does not trigger a retry no one asked for.
func (r *run) retry(token string) {
	token = RetryToken(token)
	if token == "" || token == r.st.LastHandledRetry {
		return
	}
	r.st.LastHandledRetry = token
	if r.st.Phase != ordersv1alpha1.PhaseFailed {
		return
	}
	r.retryRound(fmt.Sprintf("Retry requested (%s=%s): compensation round %d", ordersv1alpha1.RetryAnnotation, token, r.st.RetryRound+1))
}

// retryRound gives the compensation that failed in a Failed saga a new
// round of attempts.
func (r *run) retryRound(message string) {
	r.st.RetryRound++
	for i := range r.st.Steps {
		rec := &r.st.Steps[i]
		if rec.State != ordersv1alpha1.StepCompensationFailed {
			continue
		}
		// Due now: the next Tick sends attempt 1 of the new round.
		rec.State = ordersv1alpha1.StepCompensating
		rec.CompensationAttempts = 0
		rec.CompletedAt = nil
		rec.NextAttemptAt = ptrMicro(r.timerNow())
	}
	r.setCompensating(metav1.ConditionTrue, ordersv1alpha1.ReasonRetryRequested, message)
	r.setPhase(ordersv1alpha1.PhaseCompensating, ordersv1alpha1.TransitionRetryRequested, false, message)
}

// RetryToken is a retry request's token as status.lastHandledRetry records
// it: cut to the field's bound, so that a long token is seen as handled.
func RetryToken(token string) string { return truncate(token, 128) }

// resumeCompensation takes a Failed saga back to compensating, when the
// compensation that failed turns out to have succeeded.
func (r *run) resumeCompensation(message string) {
	r.setCompensating(metav1.ConditionTrue, ordersv1alpha1.ReasonCompensating, message)
	r.setPhase(ordersv1alpha1.PhaseCompensating, ordersv1alpha1.TransitionCompensationResumed, false, message)
}

func (r *run) setCompensating(status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&r.st.Conditions, metav1.Condition{
		Type: ordersv1alpha1.ConditionCompensating, Status: status, Reason: reason,
		Message: message, ObservedGeneration: r.saga.Generation,
	})
}

// compensationCause is why compensation started, from the Compensating
// condition set when it did.
func compensationCause(saga *ordersv1alpha1.OrderSaga) string {
	c := meta.FindStatusCondition(saga.Status.Conditions, ordersv1alpha1.ConditionCompensating)
	if c == nil || c.Status != metav1.ConditionTrue {
		return ""
	}
	return "Cause: " + c.Message
}
