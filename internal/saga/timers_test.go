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
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func TestBrokerOutageLongerThanATimeoutFailsNoStep(t *testing.T) {
	h := newHarness(t)
	h.tick() // the reservation is sent at t0; its reply is due at t0+10s
	// The pass woken by the timeout finds the broker gone since t0+2s.
	out := h.pauseAt(2*time.Second, 10*time.Second)
	if len(out.Transitions) != 0 || len(out.Dispatches) != 0 || !out.RequeueAt.IsZero() {
		t.Fatalf("a paused saga acted or asked to be woken: %+v", out)
	}
	if at := h.saga.Status.TimersPausedAt; at == nil || !at.Time.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("timersPausedAt %v, want t0+2s", at)
	}
	h.pauseAt(0, 5*time.Minute) // still disconnected five minutes later
	if rec := h.record(reserve); rec.State != running || rec.Attempts != 1 || rec.TimedOutAttempts != 0 {
		t.Fatalf("the outage counted against the step: %+v", rec)
	}

	out = h.resumeAt(5 * time.Minute)
	// 4m58s of pause: the 8s the reply had left when the broker went are
	// left again.
	want := t0.Add(5*time.Minute + 8*time.Second)
	if rec := h.record(reserve); rec.TimeoutAt == nil || !rec.TimeoutAt.Time.Equal(want) || !rec.DispatchedAt.Time.Equal(t0) {
		t.Fatalf("want timeoutAt %s and dispatchedAt unchanged, got %+v", want, rec)
	}
	if !out.RequeueAt.Equal(want) {
		t.Fatalf("requeue at %s, want the moved timeout %s", out.RequeueAt, want)
	}
	if st := h.saga.Status; st.TimersPausedAt != nil || st.TimersPausedFor != "4m58s" {
		t.Fatalf("timersPausedAt %v, timersPausedFor %q; want cleared, 4m58s", st.TimersPausedAt, st.TimersPausedFor)
	}
	if out := h.at(5*time.Minute + 7*time.Second); len(out.Transitions) != 0 {
		t.Fatalf("timed out early: %v", out.Transitions)
	}
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.expectStates(succeeded, running, pending)
	if slices.Contains(h.reasons(), string(ordersv1alpha1.TransitionStepRetrying)+"("+reserve+")") {
		t.Fatalf("history %v", h.reasons())
	}
}

func TestTimersThatCannotPauseAreLeftAlone(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness)
		ev    Event
	}{
		{"pause of a pending saga (no timer runs)", func(h *harness) { Initialize(h.saga) }, PauseTimers{}},
		{"pause of a completed saga", func(h *harness) {
			h.tick()
			h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
			h.replyTo(charge, protocol.StatusSucceeded, "", nil)
			h.replyTo(shipment, protocol.StatusSucceeded, "", nil)
		}, PauseTimers{}},
		{"pause of a saga cancelled before it started", func(h *harness) {
			h.apply(Cancel{Reason: ordersv1alpha1.ReasonCancelled})
		}, PauseTimers{}},
		{"pause of a failed saga (it waits for a person)", func(h *harness) {
			h.tick()
			h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
			h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil)
			h.replyTo(reserve, protocol.StatusFailed, "ReservationLost", nil)
		}, PauseTimers{}},
		{"pause of a saga already paused keeps when the pause began", func(h *harness) {
			h.tick()
			h.pauseAt(time.Second, time.Second)
			h.now = t0.Add(time.Minute)
		}, PauseTimers{Since: t0.Add(30 * time.Second)}},
		{"resume of a saga not paused", func(h *harness) { h.tick() }, ResumeTimers{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.setup(h)
			before := h.saga.Status.DeepCopy()
			out := h.apply(tt.ev)
			if len(out.Transitions) != 0 || len(out.Dispatches) != 0 {
				t.Fatalf("acted: %+v", out)
			}
			if !statusEqual(before, &h.saga.Status) {
				t.Fatalf("status changed:\n%+v\nwant\n%+v", h.saga.Status, *before)
			}
		})
	}
}

func TestResumeMovesEveryTimerByThePause(t *testing.T) {
	tests := []struct {
		name string
		// setup brings the saga to the state to pause, at t0.
		setup func(h *harness)
		// The pause runs from since to resume (offsets from t0).
		since, resume time.Duration
		check         func(t *testing.T, h *harness)
	}{
		{
			name:  "a retry backoff",
			setup: func(h *harness) { h.tick(); h.replyTo(reserve, protocol.StatusRetryable, "Busy", nil) }, // next at t0+1s
			since: 500 * time.Millisecond, resume: 10*time.Second + 500*time.Millisecond,
			check: checkBackoffMoved,
		},
		{
			name: "a compensation in flight",
			setup: func(h *harness) {
				h.tick()
				h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
				h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil) // release sent at t0
			},
			since: 3 * time.Second, resume: time.Minute + 3*time.Second,
			check: checkCompensationTimeoutMoved,
		},
		{
			name: "a status written before timeoutAt existed",
			setup: func(h *harness) {
				h.tick()
				h.saga.Status.Steps[0].TimeoutAt = nil // due at dispatchedAt + timeout, t0+10s
			},
			since: time.Second, resume: 31 * time.Second,
			check: checkOldStatusTimeoutMoved,
		},
		{
			name:  "the deadline",
			setup: func(h *harness) { h.saga.Spec.Deadline = "15s"; h.tick() },
			since: 5 * time.Second, resume: 105 * time.Second,
			check: checkDeadlineMoved,
		},
		{
			name:  "a timer due before the pause began still fires",
			setup: func(h *harness) { h.tick() }, // due at t0+10s; no pass ran then
			since: 12 * time.Second, resume: time.Minute,
			check: checkOverdueTimerFires,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.setup(h)
			h.pauseAt(tt.since, tt.since)
			if out := h.pauseAt(0, tt.resume-time.Millisecond); len(out.Transitions) != 0 || len(out.Dispatches) != 0 {
				t.Fatalf("a paused saga acted: %+v", out)
			}
			h.resumeAt(tt.resume)
			if h.saga.Status.TimersPausedAt != nil {
				t.Fatal("timersPausedAt not cleared on resume")
			}
			tt.check(t, h)
		})
	}
}

// The checks of TestResumeMovesEveryTimerByThePause, run right after the
// resume.

func checkBackoffMoved(t *testing.T, h *harness) {
	t.Helper()
	if rec := h.record(reserve); !rec.NextAttemptAt.Time.Equal(t0.Add(11*time.Second)) || rec.TimeoutAt != nil {
		t.Fatalf("want the retry moved to t0+11s, got %+v", rec)
	}
	if out := h.at(10*time.Second + 900*time.Millisecond); len(out.Dispatches) != 0 {
		t.Fatal("retried before the moved backoff ended")
	}
	out := h.at(11 * time.Second)
	if len(out.Dispatches) != 1 || out.Dispatches[0].Attempt != 2 ||
		!out.Dispatches[0].Deadline.Equal(t0.Add(21*time.Second)) || !h.record(reserve).TimeoutAt.Time.Equal(t0.Add(21*time.Second)) {
		t.Fatalf("want attempt 2 due at t0+21s, got %+v and %+v", out.Dispatches, h.record(reserve))
	}
}

func checkCompensationTimeoutMoved(t *testing.T, h *harness) {
	t.Helper()
	if rec := h.record(reserve); rec.State != compensating || !rec.TimeoutAt.Time.Equal(t0.Add(time.Minute+10*time.Second)) {
		t.Fatalf("want the compensation's timeout moved to t0+1m10s, got %+v", rec)
	}
	if got := InFlight(h.saga); len(got) != 1 || !got[0].Deadline.Equal(t0.Add(time.Minute+10*time.Second)) {
		t.Fatalf("a copy sent now must carry the moved deadline, got %+v", got)
	}
}

func checkOldStatusTimeoutMoved(t *testing.T, h *harness) {
	t.Helper()
	if rec := h.record(reserve); rec.TimeoutAt == nil || !rec.TimeoutAt.Time.Equal(t0.Add(40*time.Second)) {
		t.Fatalf("want timeoutAt t0+40s, got %+v", rec)
	}
}

func checkDeadlineMoved(t *testing.T, h *harness) {
	t.Helper()
	if d, ok := Deadline(h.saga, h.now); !ok || !d.Equal(t0.Add(115*time.Second)) || h.saga.Status.TimersPausedFor != "1m40s" {
		t.Fatalf("deadline %s, paused for %q; want t0+1m55s, 1m40s", d, h.saga.Status.TimersPausedFor)
	}
	h.now = t0.Add(106 * time.Second)
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil) // charge due at t0+1m56s
	if !h.last.RequeueAt.Equal(t0.Add(115 * time.Second)) {
		t.Fatalf("requeue at %s, want the moved deadline", h.last.RequeueAt)
	}
	h.at(114 * time.Second)
	h.expectPhase(ordersv1alpha1.PhaseRunning)
	h.at(115 * time.Second)
	h.expectPhase(ordersv1alpha1.PhaseCompensating)
	c := meta.FindStatusCondition(h.saga.Status.Conditions, ordersv1alpha1.ConditionCompensating)
	if c == nil || c.Reason != ordersv1alpha1.ReasonDeadlineExceeded {
		t.Fatalf("compensating condition %+v", c)
	}
}

func checkOverdueTimerFires(t *testing.T, h *harness) {
	t.Helper()
	if rec := h.record(reserve); rec.Reason != ordersv1alpha1.StepReasonTimeout || rec.NextAttemptAt == nil {
		t.Fatalf("want the overdue timeout counted on resume, got %+v", rec)
	}
}

func TestRepliesAreAppliedWhilePaused(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness) // the step in flight at t0 is the one answered
		step  string
		reply protocol.Status
		// check runs after the reply (at t0+2s, paused since t0+1s) and
		// after the resume at t0+1m.
		paused, resumed func(t *testing.T, h *harness)
	}{
		{
			name: "a success: the next command waits for the resume", step: reserve, reply: protocol.StatusSucceeded,
			setup: func(h *harness) { h.tick() },
			paused: func(t *testing.T, h *harness) {
				t.Helper()
				h.expectStates(succeeded, pending, pending)
			},
			resumed: func(t *testing.T, h *harness) {
				t.Helper()
				h.expectStates(succeeded, running, pending)
				if rec := h.record(charge); !rec.DispatchedAt.Time.Equal(t0.Add(time.Minute)) || !rec.TimeoutAt.Time.Equal(t0.Add(time.Minute+10*time.Second)) {
					t.Fatalf("want the charge sent at the resume, got %+v", rec)
				}
			},
		},
		{
			name: "a retryable failure: the backoff starts at the resume", step: reserve, reply: protocol.StatusRetryable,
			setup: func(h *harness) { h.tick() },
			paused: func(t *testing.T, h *harness) {
				t.Helper()
				if rec := h.record(reserve); rec.NextAttemptAt == nil || rec.TimeoutAt != nil {
					t.Fatalf("want a retry scheduled, got %+v", rec)
				}
			},
			resumed: func(t *testing.T, h *harness) {
				t.Helper()
				if rec := h.record(reserve); !rec.NextAttemptAt.Time.Equal(t0.Add(time.Minute + time.Second)) {
					t.Fatalf("want the 1s backoff counted from the resume, got %+v", rec)
				}
			},
		},
		{
			name: "a failure: compensation starts, and is sent at the resume", step: charge, reply: protocol.StatusFailed,
			setup: func(h *harness) { h.tick(); h.replyTo(reserve, protocol.StatusSucceeded, "", nil) },
			paused: func(t *testing.T, h *harness) {
				t.Helper()
				h.expectPhase(ordersv1alpha1.PhaseCompensating)
				h.expectStates(succeeded, failed, skipped)
			},
			resumed: func(t *testing.T, h *harness) {
				t.Helper()
				h.expectStates(compensating, failed, skipped)
				if got := h.sentSummary(); got[len(got)-1] != reserve+"/compensation#1" {
					t.Fatalf("sent %v", got)
				}
			},
		},
		{
			name: "the last success completes the saga", step: shipment, reply: protocol.StatusSucceeded,
			setup: func(h *harness) {
				h.tick()
				h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
				h.replyTo(charge, protocol.StatusSucceeded, "", nil)
			},
			paused: func(t *testing.T, h *harness) {
				t.Helper()
				h.expectPhase(ordersv1alpha1.PhaseCompleted)
				if st := h.saga.Status; st.TimersPausedAt != nil || st.TimersPausedFor != "1s" {
					t.Fatalf("a finished saga has no timer to pause: %v, %q", st.TimersPausedAt, st.TimersPausedFor)
				}
			},
			resumed: func(t *testing.T, h *harness) { t.Helper(); h.expectPhase(ordersv1alpha1.PhaseCompleted) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.setup(h)
			sent := len(h.sent)
			h.pauseAt(time.Second, time.Second)
			h.now = t0.Add(2 * time.Second)
			reason := ""
			if tt.reply != protocol.StatusSucceeded {
				reason = "Declined"
			}
			if v := h.replyWhilePaused(tt.step, tt.reply, reason); v != Applied {
				t.Fatalf("verdict %s, want Applied", v)
			}
			if len(h.sent) != sent || !h.last.RequeueAt.IsZero() {
				t.Fatalf("a paused saga sent %v or asked to be woken at %s", h.sentSummary()[sent:], h.last.RequeueAt)
			}
			tt.paused(t, h)
			h.resumeAt(time.Minute)
			tt.resumed(t, h)
		})
	}
}

func TestCancelWhilePausedCompensatesOnceResumed(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil) // charge in flight
	h.pauseAt(time.Second, time.Second)
	h.now = t0.Add(2 * time.Second)
	h.apply(Cancel{Reason: ordersv1alpha1.ReasonCancelled})
	h.apply(PauseTimers{})
	h.expectPhase(ordersv1alpha1.PhaseCompensating)
	h.expectStates(succeeded, interrupted, skipped)
	if rec := h.record(charge); rec.TimeoutAt != nil || len(h.sent) != 2 {
		t.Fatalf("want the charge interrupted and nothing sent, got %+v, sent %v", rec, h.sentSummary())
	}
	h.resumeAt(time.Minute)
	h.expectStates(succeeded, compensating, skipped)
	if got := h.sentSummary(); got[len(got)-1] != charge+"/compensation#1" {
		t.Fatalf("sent %v", got)
	}
}

func TestTickWhilePausedSendsNothingAndFiresNothing(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusRetryable, "Busy", nil)
	h.pauseAt(0, 0)
	before := h.saga.Status.DeepCopy()
	if out := h.at(time.Hour); len(out.Transitions) != 0 || len(out.Dispatches) != 0 || !out.RequeueAt.IsZero() {
		t.Fatalf("a Tick while paused acted: %+v", out)
	}
	if !statusEqual(before, &h.saga.Status) {
		t.Fatal("a Tick while paused changed the status")
	}
}

func TestPausedSagaSaysSoInItsConditions(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.pauseAt(time.Second, time.Second)
	c := meta.FindStatusCondition(h.saga.Status.Conditions, ordersv1alpha1.ConditionReconciling)
	if c == nil || c.Reason != ordersv1alpha1.ReasonRunning || !strings.Contains(c.Message, "timers paused since 2026-11-27T10:00:01Z") {
		t.Fatalf("reconciling condition %+v", c)
	}
	h.resumeAt(time.Minute)
	c = meta.FindStatusCondition(h.saga.Status.Conditions, ordersv1alpha1.ConditionReconciling)
	if strings.Contains(c.Message, "paused") {
		t.Fatalf("reconciling condition %+v", c)
	}
}

func TestPausesAddUp(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Timeout = "1h" })
	h.tick()
	h.pauseAt(time.Second, time.Second)
	h.resumeAt(3 * time.Second)
	h.pauseAt(10*time.Second, 10*time.Second)
	h.resumeAt(10*time.Second + 1500*time.Millisecond)
	if got := h.saga.Status.TimersPausedFor; got != "3.5s" {
		t.Fatalf("timersPausedFor %q, want 3.5s", got)
	}
	if rec := h.record(reserve); !rec.TimeoutAt.Time.Equal(t0.Add(time.Hour + 3500*time.Millisecond)) {
		t.Fatalf("timeoutAt %v, want t0+1h3.5s", rec.TimeoutAt)
	}
}

// A participant refuses a copy of the command that waited past its deadline
// (CommandExpired, nothing done). After a pause, the operator sends the
// command again with the moved deadline: the refusal of the earlier copy
// costs no attempt, a refusal of the current copy does.
func TestCommandExpiredRefusalOfACopySentBeforeThePause(t *testing.T) {
	tests := []struct {
		name     string
		deadline time.Duration // of the refused copy, from t0
		want     Verdict
		attempts int32
	}{
		{name: "the copy sent before the pause", deadline: 10 * time.Second, want: Duplicate, attempts: 1},
		{name: "the copy with the moved deadline", deadline: 10*time.Second + 58*time.Second, want: Applied, attempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.tick()                                // attempt 1 sent at t0, due at t0+10s
			h.pauseAt(2*time.Second, 5*time.Second) // the broker was lost at t0+2s
			h.resumeAt(60 * time.Second)            // back at t0+60s: due at t0+68s
			if due := h.record(reserve).TimeoutAt.Time; !due.Equal(t0.Add(68 * time.Second)) {
				t.Fatalf("timeoutAt %v, want t0+68s", due)
			}
			ev := ReplyReceived{
				Headers: protocol.Headers{SagaNamespace: h.saga.Namespace, SagaName: h.saga.Name, SagaUID: string(h.saga.UID),
					Step: reserve, Kind: protocol.KindCommand, Attempt: 1, Deadline: t0.Add(tt.deadline)},
				CorrelationID: protocol.MessageID(string(h.saga.UID), reserve, protocol.KindCommand, 0, 1),
				Reply:         protocol.Reply{Status: protocol.StatusRetryable, Reason: protocol.ReasonCommandExpired},
			}
			if got := h.apply(ev).Verdict; got != tt.want {
				t.Fatalf("verdict %v, want %v", got, tt.want)
			}
			rec := h.record(reserve)
			if rec.Attempts != tt.attempts {
				t.Errorf("attempts %d, want %d", rec.Attempts, tt.attempts)
			}
			if waiting := rec.NextAttemptAt != nil; waiting != (tt.want == Applied) {
				t.Errorf("waiting to retry: %v, want %v", waiting, tt.want == Applied)
			}
		})
	}
}
