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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// request is a SagaRequest's event, by alice, with a fresh uid per name.
func request(name string, verb ordersv1alpha1.SagaVerb, step string) VerbRequested {
	return VerbRequested{UID: "uid-" + name, Name: name, Verb: verb, Step: step, Requester: "alice", Reason: "ticket OPS-1"}
}

// The states a verb is asked in.
func runningAtReserve(h *harness) { h.tick() }

func completed(h *harness) {
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusSucceeded, "", nil)
	h.replyTo(shipment, protocol.StatusSucceeded, "", nil)
}

// compensatingReserve: charge failed, reserve's compensation is awaited.
func compensatingReserve(h *harness) {
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil)
}

// failedOnReserve: reserve's compensation failed for good.
func failedOnReserve(h *harness) {
	compensatingReserve(h)
	h.replyTo(reserve, protocol.StatusFailed, "Lost", nil)
}

func TestVerbsApply(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(h *harness)
		req        VerbRequested
		wantPhase  ordersv1alpha1.SagaPhase
		wantStates []ordersv1alpha1.StepState
		wantReason string
		wantSent   string // the message the Tick after the verb sends, if any
	}{
		{"skip a running step goes on with the next", runningAtReserve, request("s1", ordersv1alpha1.VerbSkip, reserve),
			ordersv1alpha1.PhaseRunning, []ordersv1alpha1.StepState{skipped, running, pending}, "SkipRequested(" + reserve + ")", charge + "/command#1"},
		{"skip an awaited compensation goes on compensating", compensatingReserve, request("s2", ordersv1alpha1.VerbSkip, reserve),
			ordersv1alpha1.PhaseCompensated, []ordersv1alpha1.StepState{compensated, failed, skipped}, "SkipRequested(" + reserve + ")", ""},
		{"skip the compensation that failed resumes compensating", failedOnReserve, request("s3", ordersv1alpha1.VerbSkip, reserve),
			ordersv1alpha1.PhaseCompensated, []ordersv1alpha1.StepState{compensated, failed, skipped}, "CompensationResumed", ""},
		{"retry a failed saga", failedOnReserve, request("r1", ordersv1alpha1.VerbRetry, ""),
			ordersv1alpha1.PhaseCompensating, []ordersv1alpha1.StepState{compensating, failed, skipped}, "RetryRequested", reserve + "/compensation#1"},
		{"compensate a completed saga", completed, request("c1", ordersv1alpha1.VerbCompensate, ""),
			ordersv1alpha1.PhaseCompensating, []ordersv1alpha1.StepState{succeeded, compensating, succeeded}, "CompensateRequested", ""},
		{"cancel a running saga", runningAtReserve, request("x1", ordersv1alpha1.VerbCancel, ""),
			ordersv1alpha1.PhaseCompensating, []ordersv1alpha1.StepState{compensating, skipped, skipped}, "CancelRequested", ""},
		{"cancel a pending saga", func(h *harness) { Initialize(h.saga) }, request("x2", ordersv1alpha1.VerbCancel, ""),
			ordersv1alpha1.PhaseCompensated, []ordersv1alpha1.StepState{skipped, skipped, skipped}, "Cancelled", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.setup(h)
			sentBefore := len(h.sent)
			out := h.apply(tt.req)
			if !slices.ContainsFunc(out.Transitions, func(tr Transition) bool { return tr.Request == tt.req.Name }) {
				t.Fatalf("no transition names the request: %+v", out.Transitions)
			}
			if tt.wantSent != "" {
				h.tick()
			}
			if tt.name == "skip an awaited compensation goes on compensating" || tt.name == "skip the compensation that failed resumes compensating" {
				h.tick() // nothing left to undo: the next Tick finishes the compensation
			}
			h.expectPhase(tt.wantPhase)
			h.expectStates(tt.wantStates...)
			if !slices.Contains(h.reasons(), tt.wantReason) {
				t.Fatalf("history %v lacks %s", h.reasons(), tt.wantReason)
			}
			got := h.sentSummary()[sentBefore:]
			if tt.wantSent != "" && !slices.Contains(got, tt.wantSent) {
				t.Fatalf("sent %v after the verb, want %s", got, tt.wantSent)
			}
			rec := HandledRequest(&h.saga.Status, tt.req.UID)
			if rec == nil || rec.Phase != ordersv1alpha1.RequestDone || rec.Name != tt.req.Name || rec.Verb != tt.req.Verb {
				t.Fatalf("handled record %+v", rec)
			}
			last := h.saga.Status.History
			if !slices.ContainsFunc(last, func(e ordersv1alpha1.HistoryEntry) bool {
				return strings.Contains(e.Message, "requested by alice (SagaRequest "+tt.req.Name+"): ticket OPS-1")
			}) {
				t.Fatalf("history does not say who asked and why: %+v", last)
			}
			// Exactly once: the same request again changes nothing.
			before := h.saga.Status.DeepCopy()
			if again := h.apply(tt.req); len(again.Transitions) != 0 || !statusEqual(before, &h.saga.Status) {
				t.Fatalf("request applied twice: %+v", again.Transitions)
			}
		})
	}
}

func TestVerbsRefuseWhatTheyDoNotApplyTo(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness)
		req   VerbRequested
		why   string
	}{
		{"retry a running saga", runningAtReserve, request("r", ordersv1alpha1.VerbRetry, ""), "Retry applies only to a Failed saga"},
		{"retry a completed saga", completed, request("r", ordersv1alpha1.VerbRetry, ""), "the saga is Completed"},
		{"skip an unknown step", runningAtReserve, request("s", ordersv1alpha1.VerbSkip, "nope"), `the saga has no step "nope"`},
		{"skip a step not started", runningAtReserve, request("s", ordersv1alpha1.VerbSkip, charge), "step " + charge + " is Pending"},
		{"skip a step that succeeded", completed, request("s", ordersv1alpha1.VerbSkip, reserve), "step " + reserve + " is Succeeded"},
		{"skip a compensation not started", compensatingReserve, request("s", ordersv1alpha1.VerbSkip, charge), "step " + charge + " is Failed"},
		{"compensate a running saga", runningAtReserve, request("c", ordersv1alpha1.VerbCompensate, ""), "Compensate applies only to a Completed saga"},
		{"compensate a compensated saga", func(h *harness) {
			compensatingReserve(h)
			h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
		}, request("c", ordersv1alpha1.VerbCompensate, ""), "the saga is Compensated"},
		{"cancel a completed saga", completed, request("x", ordersv1alpha1.VerbCancel, ""), "Cancel applies only to a Pending or Running saga"},
		{"cancel a failed saga", failedOnReserve, request("x", ordersv1alpha1.VerbCancel, ""), "the saga is Failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.setup(h)
			before := h.saga.Status.DeepCopy()
			out := h.apply(tt.req)
			if len(out.Transitions) != 1 || out.Transitions[0].Reason != ordersv1alpha1.TransitionRequestRefused ||
				!out.Transitions[0].Warning || out.Transitions[0].Request != tt.req.Name {
				t.Fatalf("transitions %+v, want one RequestRefused", out.Transitions)
			}
			if !strings.Contains(out.Transitions[0].Message, tt.why) || !strings.Contains(out.Transitions[0].Message, "alice") {
				t.Fatalf("refusal %q does not say %q and who asked", out.Transitions[0].Message, tt.why)
			}
			rec := HandledRequest(&h.saga.Status, tt.req.UID)
			if rec == nil || rec.Phase != ordersv1alpha1.RequestRefused || !strings.Contains(rec.Message, tt.why) {
				t.Fatalf("handled record %+v", rec)
			}
			// Nothing but the record and the history entry changed.
			after := h.saga.Status.DeepCopy()
			after.HandledRequests, after.History = before.HandledRequests, before.History
			if !statusEqual(before, after) {
				t.Fatalf("a refused request changed the saga:\n%+v\n%+v", before, after)
			}
		})
	}
}

func TestSkippedStepsCompleteTheSagaAndLateRepliesAreDuplicates(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	late := h.record(charge)
	h.apply(request("skip", ordersv1alpha1.VerbSkip, charge))
	h.tick()
	if rec := h.record(charge); rec.Reason != ordersv1alpha1.StepReasonSkipped || !strings.Contains(rec.Message, "ticket OPS-1") {
		t.Fatalf("skipped step's outcome: %+v", rec)
	}
	if v := h.replyAttempt(charge, protocol.KindCommand, 0, late.Attempts, protocol.StatusSucceeded, "", nil); v != Duplicate {
		t.Fatalf("late reply to the skipped command: %s, want Duplicate", v)
	}
	h.replyTo(shipment, protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompleted)
	h.expectStates(succeeded, skipped, succeeded)
	if got := h.history[len(h.history)-1].Message; got != "2 steps succeeded, 1 skipped by request" {
		t.Fatalf("completion message %q", got)
	}
}

func TestCompensateUndoesACompletedSagaInReverse(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) {
		s.Spec.Steps[2].Compensation = &ordersv1alpha1.Command{Name: "CancelShipment"}
	})
	completed(h)
	h.apply(request("undo", ordersv1alpha1.VerbCompensate, ""))
	h.expectCondition(ordersv1alpha1.ConditionCompensating, metav1.ConditionTrue, ordersv1alpha1.ReasonCompensateRequested)
	if h.saga.Status.CompletionTime != nil {
		t.Fatal("a compensating saga keeps its completion time")
	}
	h.replyTo(shipment, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusSucceeded, "", nil)
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
	h.expectStates(compensated, compensated, compensated)
	want := []string{shipment + "/compensation#1", charge + "/compensation#1", reserve + "/compensation#1"}
	if got := h.sentSummary()[3:]; !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
}

func TestHandledRequestsAreBounded(t *testing.T) {
	h := newHarness(t)
	completed(h)
	for i := range ordersv1alpha1.MaxHandledRequests + 3 {
		h.apply(request(string(rune('a'+i)), ordersv1alpha1.VerbRetry, ""))
	}
	if n := len(h.saga.Status.HandledRequests); n != ordersv1alpha1.MaxHandledRequests {
		t.Fatalf("%d handled requests kept", n)
	}
	if HandledRequest(&h.saga.Status, "uid-a") != nil || HandledRequest(&h.saga.Status, "uid-s") == nil {
		t.Fatal("the oldest requests are not the ones dropped")
	}
}
