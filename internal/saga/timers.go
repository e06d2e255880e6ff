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
	"time"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// A saga's timers are the timeout of the message in flight
// (steps[].timeoutAt), the end of a retry backoff (steps[].nextAttemptAt)
// and the deadline (startTime + spec.deadline + timersPausedFor). They can
// be paused, so that a step never fails, and a saga never passes its
// deadline, for a time the operator could not send or receive.

// paused reports whether the saga's timers are paused.
func (r *run) paused() bool { return r.st.TimersPausedAt != nil }

// timerNow is the instant a timer started now counts from: now, or while
// the timers are paused the instant the pause began, so that resuming,
// which moves every timer by the length of the pause, starts it afresh.
func (r *run) timerNow() time.Time {
	if r.paused() {
		return r.st.TimersPausedAt.Time
	}
	return r.now
}

// pauseTimers records that the timers are paused since the given instant
// (now if zero or later), if the saga has timers running: it is Running or
// Compensating. A saga already paused keeps the instant its pause began.
// What needs no message still happens: a saga whose work is done finishes.
func (r *run) pauseTimers(since time.Time) {
	if r.st.Phase != ordersv1alpha1.PhaseRunning && r.st.Phase != ordersv1alpha1.PhaseCompensating {
		return // pending or final: no timer runs
	}
	if !r.paused() {
		if since.IsZero() || since.After(r.now) {
			since = r.now
		}
		if r.st.StartTime != nil && since.Before(r.st.StartTime.Time) {
			since = r.st.StartTime.Time // no timer ran before the saga started
		}
		r.st.TimersPausedAt = ptrMicro(since)
	}
	r.tick()
}

// resumeTimers ends a pause: every timer still running moves later by the
// length of the pause, which is added to timersPausedFor (and so to the
// deadline).
func (r *run) resumeTimers() {
	if r.paused() {
		r.unblock() // the pause's reason, if it gave one, is over
	}
	d := r.endPause()
	if d == 0 {
		return
	}
	for i := range r.st.Steps {
		rec := &r.st.Steps[i]
		if rec.State != ordersv1alpha1.StepRunning && rec.State != ordersv1alpha1.StepCompensating {
			continue
		}
		switch {
		case rec.NextAttemptAt != nil:
			rec.NextAttemptAt = ptrMicro(rec.NextAttemptAt.Add(d))
		case rec.DispatchedAt != nil:
			rec.TimeoutAt = ptrMicro(replyDue(*rec, r.saga.RunSteps()[i]).Add(d))
		}
	}
}

// endPause clears the pause and returns its length, rounded to the
// millisecond, after adding it to timersPausedFor.
func (r *run) endPause() time.Duration {
	if !r.paused() {
		return 0
	}
	d := r.now.Sub(r.st.TimersPausedAt.Time).Round(time.Millisecond)
	r.st.TimersPausedAt = nil
	if d <= 0 {
		return 0
	}
	r.st.TimersPausedFor = ordersv1alpha1.Duration((r.st.TimersPausedFor.Get() + d).String())
	return d
}

// Deadline returns when the forward path of the saga must be done, if the
// saga has a deadline and has started: spec.deadline after startTime, plus
// the time its timers were paused, the pause in progress (up to now)
// included. So a paused saga never passes its deadline.
func Deadline(saga *ordersv1alpha1.OrderSaga, now time.Time) (time.Time, bool) {
	d := saga.RunDeadline().Get()
	st := &saga.Status
	if d <= 0 || st.StartTime == nil {
		return time.Time{}, false
	}
	at := st.StartTime.Add(d + st.TimersPausedFor.Get())
	if st.TimersPausedAt != nil && now.After(st.TimersPausedAt.Time) {
		at = at.Add(now.Sub(st.TimersPausedAt.Time))
	}
	return at, true
}

// stepTimeout is the wait for the reply to one attempt of the step, as the
// step alone says it (statuses written before timeoutAt existed).
func stepTimeout(step ordersv1alpha1.SagaStep) time.Duration {
	if d := step.Timeout.Get(); d > 0 {
		return d
	}
	return defaultTimeout
}

// replyDue is when the wait for the reply to the step's message in flight
// ends: timeoutAt, or for a status written before that field existed,
// dispatchedAt plus the step's timeout.
func replyDue(rec ordersv1alpha1.StepStatus, step ordersv1alpha1.SagaStep) time.Time {
	if rec.TimeoutAt != nil {
		return rec.TimeoutAt.Time
	}
	return rec.DispatchedAt.Add(stepTimeout(step))
}

// nextWake returns the earliest time something is due: a timeout, the end of
// a backoff or the deadline. Nothing is due while the timers are paused:
// whoever paused them resumes them.
func (r *run) nextWake() time.Time {
	if r.paused() {
		return time.Time{}
	}
	var wake time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}
	if r.blocked {
		return r.blockedWake(earliest, &wake)
	}
	switch r.st.Phase {
	case ordersv1alpha1.PhaseRunning:
		if d, ok := Deadline(r.saga, r.now); ok {
			earliest(d)
		}
		for i := range r.st.Steps {
			if r.st.Steps[i].State == ordersv1alpha1.StepRunning {
				earliest(r.due(i))
			}
		}
	case ordersv1alpha1.PhaseCompensating:
		for i := range r.st.Steps {
			// A command still in flight after a failure is waited for.
			if s := r.st.Steps[i].State; s == ordersv1alpha1.StepCompensating || s == ordersv1alpha1.StepRunning {
				earliest(r.due(i))
			}
		}
	}
	return wake
}

// blockedWake is nextWake while a step is held (see gate): only the
// deadline, and the timeout of a message of another step in flight
// (parallel steps), can end the wait; a change of the participant wakes the
// saga otherwise.
func (r *run) blockedWake(earliest func(time.Time), wake *time.Time) time.Time {
	if d, ok := Deadline(r.saga, r.now); ok && r.st.Phase == ordersv1alpha1.PhaseRunning {
		earliest(d)
	}
	for i, rec := range r.st.Steps {
		if (rec.State == ordersv1alpha1.StepRunning || rec.State == ordersv1alpha1.StepCompensating) &&
			rec.NextAttemptAt == nil && rec.DispatchedAt != nil {
			earliest(r.due(i))
		}
	}
	return *wake
}

// due is when step i next needs attention: its retry or its timeout.
func (r *run) due(i int) time.Time {
	rec := r.st.Steps[i]
	switch {
	case rec.NextAttemptAt != nil:
		return rec.NextAttemptAt.Time
	case rec.DispatchedAt != nil:
		return replyDue(rec, r.saga.RunSteps()[i])
	default:
		return r.now
	}
}
