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

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// VerbRequested is a person's SagaRequest: a manual verb, applied once per
// request uid (status.handledRequests). A verb that does not apply to the
// saga as it is is refused: nothing changes but the history entry and the
// handled record that say why.
type VerbRequested struct {
	// UID and Name identify the SagaRequest.
	UID, Name string
	Verb      ordersv1alpha1.SagaVerb
	// Step is the step a Skip resolves.
	Step string
	// Requester is who created the request, as admission stamped it.
	Requester string
	// Reason is the requester's note.
	Reason string
}

func (VerbRequested) isEvent() {}

// HandledRequest returns the saga's record of the request with uid, nil if
// it has not handled it (or handled it longer ago than it remembers).
func HandledRequest(st *ordersv1alpha1.OrderSagaStatus, uid string) *ordersv1alpha1.HandledRequest {
	for i := range st.HandledRequests {
		if st.HandledRequests[i].UID == uid {
			return &st.HandledRequests[i]
		}
	}
	return nil
}

// verb applies a request once: the verb's own transitions (and those that
// follow at once) name the request, so that whoever waits for its outcome
// learns it after the status write.
func (r *run) verb(e VerbRequested) {
	if e.UID == "" || HandledRequest(r.st, e.UID) != nil {
		return
	}
	first := len(r.out.Transitions)
	asked := fmt.Sprintf("%s requested by %s (SagaRequest %s): %s", e.Verb, e.Requester, e.Name, e.Reason)
	var done, refusal string
	switch e.Verb {
	case ordersv1alpha1.VerbRetry:
		done, refusal = r.retryByRequest(asked)
	case ordersv1alpha1.VerbSkip:
		done, refusal = r.skip(e.Step, asked)
	case ordersv1alpha1.VerbCompensate:
		done, refusal = r.compensateCompleted(asked)
	case ordersv1alpha1.VerbCancel:
		done, refusal = r.cancelByRequest(asked)
	case ordersv1alpha1.VerbResumeForward:
		done, refusal = r.resumeForward(asked)
	default:
		refusal = fmt.Sprintf("unknown verb %q", e.Verb)
	}
	phase, message := ordersv1alpha1.RequestDone, done
	if refusal != "" {
		phase, message = ordersv1alpha1.RequestRefused, refusal
		p := string(r.st.Phase)
		r.out.Transitions = append(r.out.Transitions, Transition{Reason: ordersv1alpha1.TransitionRequestRefused, Warning: true,
			From: p, To: p, Message: fmt.Sprintf("%s requested by %s (SagaRequest %s) refused: %s", e.Verb, e.Requester, e.Name, refusal)})
	}
	for i := first; i < len(r.out.Transitions); i++ {
		r.out.Transitions[i].Request = e.Name
	}
	r.st.HandledRequests = append(r.st.HandledRequests, ordersv1alpha1.HandledRequest{
		UID: e.UID, Name: e.Name, Verb: e.Verb, Phase: phase, Message: truncate(message, maxHistoryMessage),
		Time: metav1.MicroTime{Time: r.now},
	})
	if over := len(r.st.HandledRequests) - ordersv1alpha1.MaxHandledRequests; over > 0 {
		r.st.HandledRequests = append([]ordersv1alpha1.HandledRequest(nil), r.st.HandledRequests[over:]...)
	}
}

// retryByRequest is RetryAnnotation's retry, asked for by a SagaRequest.
func (r *run) retryByRequest(asked string) (done, refusal string) {
	if r.st.Phase != ordersv1alpha1.PhaseFailed {
		return "", fmt.Sprintf("Retry applies only to a Failed saga (a compensation failed for good); the saga is %s", r.phaseName())
	}
	r.retryRound(asked)
	return fmt.Sprintf("Compensation round %d started", r.st.RetryRound), ""
}

// skip resolves a stuck step by hand. On the forward path, a step whose
// command awaits its reply or its next attempt, or waits to be sent, is
// Skipped: it is not compensated, and the saga goes on with the next step.
// While compensating, a compensation that awaits its reply or failed for
// good (a Failed saga) counts as done, and the saga goes on compensating.
// A reply that comes later for the skipped message is a duplicate.
func (r *run) skip(step, asked string) (done, refusal string) {
	i := r.stepIndex(step)
	if i < 0 {
		return "", fmt.Sprintf("the saga has no step %q", step)
	}
	rec := &r.st.Steps[i]
	from := rec.State
	switch {
	case r.st.Phase == ordersv1alpha1.PhaseRunning &&
		(rec.State == ordersv1alpha1.StepRunning || (rec.State == ordersv1alpha1.StepPending && r.st.CurrentStep == rec.Name)):
		rec.State = ordersv1alpha1.StepSkipped
		rec.NextAttemptAt, rec.TimeoutAt = nil, nil
		rec.CompletedAt = ptrMicro(r.now)
		setOutcome(rec, protocol.KindCommand, ordersv1alpha1.StepReasonSkipped, asked)
		r.unblock() // a gate that held the step no longer matters; the next one decides again
		r.stepTransition(i, protocol.KindCommand, ordersv1alpha1.TransitionSkipRequested, true, from, asked)
		return fmt.Sprintf("Step %s skipped (not compensated); the saga goes on with the next step", step), ""
	case (r.st.Phase == ordersv1alpha1.PhaseCompensating && rec.State == ordersv1alpha1.StepCompensating) ||
		(r.st.Phase == ordersv1alpha1.PhaseFailed && rec.State == ordersv1alpha1.StepCompensationFailed):
		rec.State = ordersv1alpha1.StepCompensated
		rec.NextAttemptAt, rec.TimeoutAt = nil, nil
		rec.CompletedAt = ptrMicro(r.now)
		setOutcome(rec, protocol.KindCompensation, ordersv1alpha1.StepReasonSkipped, asked)
		r.unblock()
		r.stepTransition(i, protocol.KindCompensation, ordersv1alpha1.TransitionSkipRequested, true, from, asked)
		if r.st.Phase == ordersv1alpha1.PhaseFailed {
			r.setCompensating(metav1.ConditionTrue, ordersv1alpha1.ReasonSkipRequested, asked)
			r.setPhase(ordersv1alpha1.PhaseCompensating, ordersv1alpha1.TransitionCompensationResumed, false,
				"Compensation of step "+step+" resolved by hand; compensation goes on")
		}
		return fmt.Sprintf("Compensation of step %s marked done by hand; the saga goes on compensating", step), ""
	}
	return "", fmt.Sprintf("Skip applies to a step whose command is awaited (saga Running) or whose compensation is awaited "+
		"(saga Compensating) or failed (saga Failed); step %s is %s and the saga %s", step, from, r.phaseName())
}

// compensateCompleted undoes a Completed saga (a return, a fraud case):
// every step that has a compensation is compensated, last first.
func (r *run) compensateCompleted(asked string) (done, refusal string) {
	if r.st.Phase != ordersv1alpha1.PhaseCompleted {
		return "", fmt.Sprintf("Compensate applies only to a Completed saga; the saga is %s", r.phaseName())
	}
	r.setCompensating(metav1.ConditionTrue, ordersv1alpha1.ReasonCompensateRequested, asked)
	r.setPhase(ordersv1alpha1.PhaseCompensating, ordersv1alpha1.TransitionCompensateRequested, true, asked)
	r.compensate()
	return "Compensation of the completed saga started", ""
}

// cancelByRequest is spec.cancel, asked for by a SagaRequest.
func (r *run) cancelByRequest(asked string) (done, refusal string) {
	switch r.st.Phase {
	case "", ordersv1alpha1.PhasePending, ordersv1alpha1.PhaseRunning:
	default:
		return "", fmt.Sprintf("Cancel applies only to a Pending or Running saga; the saga is %s", r.phaseName())
	}
	p := r.phaseName()
	r.out.Transitions = append(r.out.Transitions, Transition{Reason: ordersv1alpha1.TransitionCancelRequested, Warning: true,
		From: p, To: p, Message: asked})
	if r.st.Phase == ordersv1alpha1.PhaseRunning {
		r.beginCompensation(ordersv1alpha1.ReasonCancelRequested, asked)
		return "The saga stopped and compensates", ""
	}
	r.cancelPending(asked)
	return "The saga was cancelled before it sent anything", ""
}

func (r *run) phaseName() string {
	if r.st.Phase == "" {
		return string(ordersv1alpha1.PhasePending)
	}
	return string(r.st.Phase)
}

// resumeForward takes a saga whose step failed back to that step, once its
// participant is fixed. It applies only while going forward again cannot
// leave an effect behind or undo twice: the step failed with a known outcome
// (Failed, not TimedOut: its command took no effect), and no step was
// compensated, is being compensated, failed to compensate or has an unknown
// outcome. In practice: a saga compensated with nothing to undo (the steps
// before the failed one have no compensation), or one that compensates but
// has sent no compensation yet (its participant is suspended or the broker is
// away). The step gets a new retry round, so its command goes with new
// message ids and a new idempotency key: the participant does not answer it
// with the failure it recorded. The steps after it run again.
func (r *run) resumeForward(asked string) (done, refusal string) {
	if r.st.Phase != ordersv1alpha1.PhaseCompensated && r.st.Phase != ordersv1alpha1.PhaseCompensating {
		return "", fmt.Sprintf("ResumeForward applies only to a saga that compensates, or was compensated, after a step failed; the saga is %s", r.phaseName())
	}
	if refusal := r.forwardBlocked(); refusal != "" {
		return "", refusal
	}
	failed := -1
	for i, rec := range r.st.Steps {
		switch rec.State {
		case ordersv1alpha1.StepFailed:
			failed = i
		case ordersv1alpha1.StepCompensating, ordersv1alpha1.StepCompensated, ordersv1alpha1.StepCompensationFailed:
			return "", fmt.Sprintf("ResumeForward applies only while nothing was undone; step %s is %s", rec.Name, rec.State)
		case ordersv1alpha1.StepRunning:
			// Its reply answers the current round, which ResumeForward ends.
			return "", fmt.Sprintf("ResumeForward applies once no command is in flight; step %s awaits its reply", rec.Name)
		case ordersv1alpha1.StepTimedOut, ordersv1alpha1.StepInterrupted:
			return "", fmt.Sprintf("ResumeForward applies only when no step's outcome is unknown; step %s is %s and is compensated", rec.Name, rec.State)
		}
	}
	if failed < 0 {
		return "", "ResumeForward applies only to a saga whose step failed; no step is Failed (the saga was cancelled, passed its deadline or was compensated by request)"
	}
	if r.st.Steps[failed].Reason == ordersv1alpha1.StepReasonDrill {
		return "", fmt.Sprintf("Step %s failed on purpose (a compensation drill); ResumeForward does not undo a drill", r.st.Steps[failed].Name)
	}
	name := r.st.Steps[failed].Name
	r.st.RetryRound++
	for i := range r.st.Steps {
		rec := &r.st.Steps[i]
		// The steps the failure skipped run again; with parallel steps some
		// may be listed before the failed one. A step a request skipped stays.
		if i != failed && (rec.State != ordersv1alpha1.StepSkipped || rec.Reason == ordersv1alpha1.StepReasonSkipped) {
			continue
		}
		*rec = ordersv1alpha1.StepStatus{Name: rec.Name, State: ordersv1alpha1.StepPending}
	}
	meta.RemoveStatusCondition(&r.st.Conditions, ordersv1alpha1.ConditionCompensating)
	r.unblock() // a gate that held a compensation no longer matters; the step's decides again
	r.setPhase(ordersv1alpha1.PhaseRunning, ordersv1alpha1.TransitionResumeForwardRequested, true, asked)
	r.advance()
	return fmt.Sprintf("Step %s runs again in round %d; the saga goes on forward", name, r.st.RetryRound), ""
}

// forwardBlocked says why the saga may not run forward again whatever its
// steps: it is being deleted, cancelled or suspended (a final saga ignores
// spec.suspend, so going forward would send at once), or its deadline passed.
func (r *run) forwardBlocked() string {
	if !r.saga.DeletionTimestamp.IsZero() {
		return "the saga is being deleted"
	}
	if r.saga.Spec.Suspend || Suspended(r.saga) {
		return "the saga is suspended (spec.suspend): resume it first"
	}
	if r.saga.Spec.Cancel {
		return "the saga is cancelled (spec.cancel)"
	}
	if deadline, ok := Deadline(r.saga, r.now); ok && !r.now.Before(deadline) {
		return fmt.Sprintf("the saga's deadline passed at %s: it would compensate at once", deadline.UTC().Format(time.RFC3339))
	}
	return ""
}
