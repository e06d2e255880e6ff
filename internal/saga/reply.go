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

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// reply applies a participant's reply. A reply is accepted only if it
// answers the last message sent for its step: the correlation id must be the
// message id derived from the reply's own headers (saga uid, step, kind,
// round, attempt) and equal the id recorded in the status. A late success to
// the last attempt is still taken while the step waits to retry.
func (r *run) reply(e ReplyReceived) Verdict {
	h := e.Headers
	i, verdict := r.match(h, e.CorrelationID, e.Reply.Status)
	if verdict != Applied {
		return verdict
	}
	if !r.authentic(i, e.UserID) {
		return Unauthenticated // from a user other than the step's participant
	}
	if r.refusedStaleCopy(i, e) {
		return Duplicate
	}
	rec := &r.st.Steps[i]
	from := rec.State
	reason := e.Reply.Reason
	message := truncate(e.Reply.Message, ordersv1alpha1.MaxMessageLength)
	switch e.Reply.Status {
	case protocol.StatusSucceeded:
		setOutcome(rec, h.Kind, reason, message)
		rec.NextAttemptAt, rec.TimeoutAt = nil, nil
		rec.CompletedAt = ptrMicro(r.now)
		if h.Kind == protocol.KindCommand {
			rec.State = ordersv1alpha1.StepSucceeded
			rec.Result, rec.ResultTypes = toResult(e.Reply.Result)
			r.stepTransition(i, h.Kind, ordersv1alpha1.TransitionStepSucceeded, false, from, fmt.Sprintf("Succeeded on attempt %d", h.Attempt))
		} else {
			rec.State = ordersv1alpha1.StepCompensated
			r.stepTransition(i, h.Kind, ordersv1alpha1.TransitionStepCompensated, false, from, fmt.Sprintf("Compensated on attempt %d", h.Attempt))
			if r.st.Phase == ordersv1alpha1.PhaseFailed {
				r.resumeCompensation("A late reply compensated step " + rec.Name)
			}
		}
	case protocol.StatusFailed:
		if reason == "" {
			reason = ordersv1alpha1.StepReasonFailure
		}
		setOutcome(rec, h.Kind, reason, message)
		rec.NextAttemptAt, rec.TimeoutAt = nil, nil
		rec.CompletedAt = ptrMicro(r.now)
		if h.Kind == protocol.KindCommand {
			rec.State = ordersv1alpha1.StepFailed
			if rec.TimedOutAttempts > 0 {
				// An earlier attempt got no reply: it may still have taken effect.
				rec.State = ordersv1alpha1.StepTimedOut
			}
			r.stepTransition(i, h.Kind, ordersv1alpha1.TransitionStepFailed, true, from, fmt.Sprintf("%s: %s", reason, message))
			r.beginCompensation(ordersv1alpha1.ReasonStepFailed, fmt.Sprintf("Step %s failed: %s: %s", rec.Name, reason, message))
		} else {
			rec.State = ordersv1alpha1.StepCompensationFailed
			r.stepTransition(i, h.Kind, ordersv1alpha1.TransitionStepCompensationFailed, true, from, fmt.Sprintf("%s: %s", reason, message))
			r.failSaga(i)
		}
	case protocol.StatusRetryable:
		if reason == "" {
			reason = ordersv1alpha1.StepReasonRetryableFailure
		}
		rec.NextAttemptAt = nil
		r.attemptFailed(i, h.Kind, reason, message, false)
	}
	return Applied
}

// refusedStaleCopy says the reply refuses a copy of the command whose
// deadline has since moved: the saga's timers were paused while the broker
// was away, and the operator sent the command again with the later deadline.
// Nothing was done, and the later copy is the one that counts.
func (r *run) refusedStaleCopy(i int, e ReplyReceived) bool {
	if e.Reply.Status != protocol.StatusRetryable || e.Reply.Reason != protocol.ReasonCommandExpired ||
		e.Headers.Kind != protocol.KindCommand || e.Headers.Deadline.IsZero() {
		return false
	}
	return e.Headers.Deadline.Before(replyDue(r.st.Steps[i], r.saga.RunSteps()[i]))
}

// match finds the step a reply answers and says whether it applies.
func (r *run) match(h protocol.Headers, correlationID string, status protocol.Status) (int, Verdict) {
	if h.SagaUID != string(r.saga.UID) || !h.Kind.Valid() {
		return -1, Unmatched
	}
	i := r.stepIndex(h.Step)
	if i < 0 || correlationID != protocol.MessageID(h.SagaUID, h.Step, h.Kind, h.Round, h.Attempt) {
		return -1, Unmatched // the headers do not describe the message answered
	}
	switch {
	case h.Round < r.st.RetryRound:
		return i, Duplicate
	case h.Round > r.st.RetryRound:
		return i, Unmatched
	}
	rec := r.st.Steps[i]
	awaiting := (h.Kind == protocol.KindCommand && rec.State == ordersv1alpha1.StepRunning) ||
		(h.Kind == protocol.KindCompensation && rec.State == ordersv1alpha1.StepCompensating)
	if awaiting && rec.MessageID == correlationID {
		if rec.NextAttemptAt != nil && status == protocol.StatusRetryable {
			return i, Duplicate // that attempt's failure is already counted
		}
		return i, Applied
	}
	if h.Kind == protocol.KindCompensation && rec.State == ordersv1alpha1.StepCompensationFailed &&
		rec.MessageID == correlationID && status == protocol.StatusSucceeded {
		return i, Applied // a late success of the last attempt: the step is undone after all
	}
	sent := rec.Attempts
	if h.Kind == protocol.KindCompensation {
		sent = rec.CompensationAttempts
	}
	if h.Attempt <= sent {
		return i, Duplicate // outcome known, or an earlier attempt
	}
	return i, Unmatched
}

// dispatchFailed handles a message that could not be delivered: like a
// retryable failure of that attempt, which cannot have taken effect.
func (r *run) dispatchFailed(e DispatchFailed) Verdict {
	i := r.stepIndex(e.Step)
	if i < 0 {
		return Unmatched
	}
	rec := &r.st.Steps[i]
	if rec.MessageID != e.MessageID {
		return Unmatched // the status read may not show the dispatch yet
	}
	if rec.NextAttemptAt != nil {
		return Duplicate
	}
	var kind protocol.Kind
	switch rec.State {
	case ordersv1alpha1.StepRunning:
		kind = protocol.KindCommand
	case ordersv1alpha1.StepCompensating:
		kind = protocol.KindCompensation
	default:
		return Duplicate
	}
	r.attemptFailed(i, kind, e.Reason, e.Message, false)
	return Applied
}

func (r *run) stepIndex(name string) int {
	for i := range r.st.Steps {
		if r.st.Steps[i].Name == name {
			return i
		}
	}
	return -1
}

// toResult records a reply's result: each value as text, and the JSON type
// of those that are not strings.
func toResult(m protocol.Result) (map[string]ordersv1alpha1.ResultValue, map[string]ordersv1alpha1.ResultType) {
	if len(m) == 0 {
		return nil, nil
	}
	values := make(map[string]ordersv1alpha1.ResultValue, len(m))
	var types map[string]ordersv1alpha1.ResultType
	for k, v := range m {
		values[k] = ordersv1alpha1.ResultValue(v.Text())
		if v.Type() != protocol.TypeString {
			if types == nil {
				types = map[string]ordersv1alpha1.ResultType{}
			}
			types[k] = ordersv1alpha1.ResultType(v.Type())
		}
	}
	return values, types
}

// Results returns the results of the steps that succeeded, by step name, as
// commands carry them to participants: each value with its JSON type.
func Results(saga *ordersv1alpha1.OrderSaga) map[string]protocol.Result {
	out := map[string]protocol.Result{}
	for _, rec := range saga.Status.Steps {
		if len(rec.Result) == 0 {
			continue
		}
		m := make(protocol.Result, len(rec.Result))
		for k, v := range rec.Result {
			m[k] = resultValue(v, rec.ResultTypes[k])
		}
		out[rec.Name] = m
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// resultValue is a recorded value with its type. The CRD's validation keeps
// a typed value's text valid; should it not be, the text goes as a string.
func resultValue(text ordersv1alpha1.ResultValue, typ ordersv1alpha1.ResultType) protocol.Value {
	if typ == "" {
		return protocol.String(string(text))
	}
	v, err := protocol.ValueOf(protocol.ValueType(typ), string(text))
	if err != nil {
		return protocol.String(string(text))
	}
	return v
}
