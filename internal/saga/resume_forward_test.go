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

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// firstStepFailed: reserve failed for good; nothing to undo, so the saga is
// Compensated at once.
func firstStepFailed(h *harness) {
	h.tick()
	h.replyTo(reserve, protocol.StatusFailed, "OutOfStock", nil)
}

// chargeFailedWhilePaused: charge failed while the broker was away, so
// reserve's compensation waits, not sent.
func chargeFailedWhilePaused(h *harness) {
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.pauseAt(0, 0)
	h.replyWhilePaused(charge, protocol.StatusFailed, "GatewayDown")
}

func TestResumeForwardRunsTheFailedStepAgainInANewRound(t *testing.T) {
	h := newHarness(t)
	firstStepFailed(h)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
	first := h.record(reserve).MessageID

	out := h.apply(request("fwd", ordersv1alpha1.VerbResumeForward, ""))
	if !slices.ContainsFunc(out.Transitions, func(tr Transition) bool {
		return tr.Reason == ordersv1alpha1.TransitionResumeForwardRequested && tr.Request == "fwd" &&
			strings.Contains(tr.Message, "requested by alice (SagaRequest fwd): ticket OPS-1")
	}) {
		t.Fatalf("transitions %+v lack ResumeForwardRequested", out.Transitions)
	}
	h.expectPhase(ordersv1alpha1.PhaseRunning)
	h.expectStates(running, pending, pending)
	h.expectNoCondition(ordersv1alpha1.ConditionCompensating)
	h.expectNoCondition(ordersv1alpha1.ConditionStalled)
	if h.saga.Status.CompletionTime != nil || h.saga.Status.RetryRound != 1 {
		t.Fatalf("completion %v, round %d", h.saga.Status.CompletionTime, h.saga.Status.RetryRound)
	}
	rec := h.record(reserve)
	if rec.MessageID == first || rec.MessageID != protocol.MessageID("uid-1", reserve, protocol.KindCommand, 1, 1) || rec.Attempts != 1 || rec.Reason != "" {
		t.Fatalf("the step is not a fresh attempt of round 1: %+v", rec)
	}
	if v := h.replyAttempt(reserve, protocol.KindCommand, 0, 1, protocol.StatusSucceeded, "", nil); v != Duplicate {
		t.Fatalf("a reply of the old round: %s, want Duplicate", v)
	}
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusSucceeded, "", nil)
	h.replyTo(shipment, protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompleted)
	want := []string{reserve + "/command#1", reserve + "/command#1", charge + "/command#1", shipment + "/command#1"}
	if got := h.sentSummary(); !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
	if rec := HandledRequest(&h.saga.Status, "uid-fwd"); rec == nil || rec.Phase != ordersv1alpha1.RequestDone {
		t.Fatalf("handled record %+v", rec)
	}
}

func TestResumeForwardOfACompensationNotSentYet(t *testing.T) {
	h := newHarness(t)
	chargeFailedWhilePaused(h)
	h.expectPhase(ordersv1alpha1.PhaseCompensating)
	h.expectStates(succeeded, failed, skipped)
	sent := len(h.sent)

	h.apply(request("fwd", ordersv1alpha1.VerbResumeForward, ""))
	h.expectPhase(ordersv1alpha1.PhaseRunning)
	h.expectStates(succeeded, pending, pending)
	if len(h.sent) != sent {
		t.Fatalf("sent %v while the timers are paused", h.sentSummary()[sent:])
	}
	h.resumeAt(time.Minute)
	if got := h.sentSummary()[sent:]; !slices.Equal(got, []string{charge + "/command#1"}) {
		t.Fatalf("sent %v after the pause, want the charge again", got)
	}
	if h.record(charge).MessageID != protocol.MessageID("uid-1", charge, protocol.KindCommand, 1, 1) {
		t.Fatalf("charge resent in the old round: %+v", h.record(charge))
	}
}

func TestResumeForwardRefusals(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*ordersv1alpha1.OrderSaga)
		setup  func(h *harness)
		why    string
	}{
		{"a running saga", nil, runningAtReserve, "applies only to a saga that compensates, or was compensated"},
		{"a completed saga", nil, completed, "the saga is Completed"},
		{"a failed saga", nil, failedOnReserve, "the saga is Failed"},
		{"a compensation in flight", nil, compensatingReserve, "nothing was undone; step " + reserve + " is Compensating"},
		{"a step compensated", nil, func(h *harness) {
			compensatingReserve(h)
			h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
		}, "nothing was undone; step " + reserve + " is Compensated"},
		{"a cancelled saga", nil, func(h *harness) { Initialize(h.saga); h.apply(Cancel{}) }, "no step is Failed"},
		{"a step timed out", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Compensation = nil }, func(h *harness) {
			h.tick()
			for d := time.Second; h.saga.Status.Phase == ordersv1alpha1.PhaseRunning && d < 5*time.Minute; d += time.Second {
				h.at(d) // every attempt times out
			}
		}, "step " + reserve + " is TimedOut"},
		{"a drill", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Drill = ordersv1alpha1.DrillFail }, h0Tick, "compensation drill"},
		{"a suspended saga", nil, func(h *harness) { firstStepFailed(h); h.saga.Spec.Suspend = true }, "resume it first"},
		{"a cancelled saga whose step failed", nil, func(h *harness) { firstStepFailed(h); h.saga.Spec.Cancel = true }, "spec.cancel"},
		{"past its deadline", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Deadline = "1m" }, func(h *harness) {
			firstStepFailed(h)
			h.now = t0.Add(2 * time.Minute)
		}, "deadline passed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mutate []func(*ordersv1alpha1.OrderSaga)
			if tt.mutate != nil {
				mutate = append(mutate, tt.mutate)
			}
			h := newHarness(t, mutate...)
			tt.setup(h)
			before := h.saga.Status.DeepCopy()
			out := h.apply(request("fwd", ordersv1alpha1.VerbResumeForward, ""))
			if len(out.Transitions) != 1 || out.Transitions[0].Reason != ordersv1alpha1.TransitionRequestRefused ||
				!strings.Contains(out.Transitions[0].Message, tt.why) {
				t.Fatalf("transitions %+v, want one RequestRefused saying %q", out.Transitions, tt.why)
			}
			after := h.saga.Status.DeepCopy()
			after.HandledRequests, after.History = before.HandledRequests, before.History
			if !statusEqual(before, after) {
				t.Fatalf("a refused request changed the saga:\n%+v\n%+v", before, after)
			}
		})
	}
}

func h0Tick(h *harness) { h.tick() }
