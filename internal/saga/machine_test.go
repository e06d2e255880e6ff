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

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

const (
	reserve  = "reserve-inventory"
	charge   = "charge-payment"
	shipment = "schedule-shipment"
)

var (
	pending      = ordersv1alpha1.StepPending
	running      = ordersv1alpha1.StepRunning
	succeeded    = ordersv1alpha1.StepSucceeded
	failed       = ordersv1alpha1.StepFailed
	timedOut     = ordersv1alpha1.StepTimedOut
	interrupted  = ordersv1alpha1.StepInterrupted
	compensating = ordersv1alpha1.StepCompensating
	compensated  = ordersv1alpha1.StepCompensated
	compFailed   = ordersv1alpha1.StepCompensationFailed
	skipped      = ordersv1alpha1.StepSkipped
)

func TestSuccessPath(t *testing.T) {
	h := newHarness(t)
	out := h.tick()
	h.expectPhase(ordersv1alpha1.PhaseRunning)
	h.expectStates(running, pending, pending)
	if len(out.Dispatches) != 1 || out.Dispatches[0].MessageID != h.record(reserve).MessageID {
		t.Fatalf("want the first command dispatched and recorded, got %+v", out.Dispatches)
	}
	if want := t0.Add(10 * time.Second); !out.RequeueAt.Equal(want) {
		t.Fatalf("requeue at %s, want the step timeout %s", out.RequeueAt, want)
	}
	h.expectCondition(ordersv1alpha1.ConditionReconciling, metav1.ConditionTrue, ordersv1alpha1.ReasonRunning)

	h.now = t0.Add(time.Second)
	if v := h.replyTo(reserve, protocol.StatusSucceeded, "", protocol.Result{"reservationId": protocol.String("r-1")}); v != Applied {
		t.Fatalf("verdict %s", v)
	}
	h.expectStates(succeeded, running, pending)
	if got := h.record(reserve).Result["reservationId"]; got != "r-1" {
		t.Fatalf("result not recorded: %q", got)
	}
	if h.saga.Status.CurrentStep != charge {
		t.Fatalf("current step %q", h.saga.Status.CurrentStep)
	}
	h.replyTo(charge, protocol.StatusSucceeded, "", protocol.Result{"paymentId": protocol.String("p-1")})
	h.replyTo(shipment, protocol.StatusSucceeded, "", nil)

	h.expectPhase(ordersv1alpha1.PhaseCompleted)
	h.expectStates(succeeded, succeeded, succeeded)
	h.expectCondition(ordersv1alpha1.ConditionReady, metav1.ConditionTrue, ordersv1alpha1.ReasonCompleted)
	h.expectNoCondition(ordersv1alpha1.ConditionReconciling)
	h.expectNoCondition(ordersv1alpha1.ConditionStalled)
	h.expectNoCondition(ordersv1alpha1.ConditionCompensating)
	if h.saga.Status.CompletionTime == nil || h.saga.Status.CurrentStep != "" || !h.last.RequeueAt.IsZero() {
		t.Fatalf("completed saga: %+v, requeue %s", h.saga.Status, h.last.RequeueAt)
	}
	want := []string{"Started", "StepStarted(" + reserve + ")", "StepSucceeded(" + reserve + ")",
		"StepStarted(" + charge + ")", "StepSucceeded(" + charge + ")",
		"StepStarted(" + shipment + ")", "StepSucceeded(" + shipment + ")", "Completed"}
	if !slices.Equal(h.reasons(), want) {
		t.Fatalf("history %v, want %v", h.reasons(), want)
	}
	if got := Results(h.saga); got[reserve]["reservationId"] != protocol.String("r-1") || got[charge]["paymentId"] != protocol.String("p-1") || len(got) != 2 {
		t.Fatalf("results %v", got)
	}
}

func TestCompensationRunsInReverseOrder(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) {
		s.Spec.Steps[2].Compensation = &ordersv1alpha1.Command{Name: "CancelShipment"}
	})
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusSucceeded, "", nil)
	h.replyTo(shipment, protocol.StatusFailed, "NoCarrier", nil)

	h.expectPhase(ordersv1alpha1.PhaseCompensating)
	h.expectStates(succeeded, compensating, failed) // the failed step had no effect: not compensated
	h.expectCondition(ordersv1alpha1.ConditionCompensating, metav1.ConditionTrue, ordersv1alpha1.ReasonStepFailed)
	h.replyTo(charge, protocol.StatusSucceeded, "", nil)
	h.expectStates(compensating, compensated, failed)
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)

	h.expectPhase(ordersv1alpha1.PhaseCompensated)
	h.expectStates(compensated, compensated, failed)
	want := []string{reserve + "/command#1", charge + "/command#1", shipment + "/command#1",
		charge + "/compensation#1", reserve + "/compensation#1"}
	if !slices.Equal(h.sentSummary(), want) {
		t.Fatalf("sent %v, want %v", h.sentSummary(), want)
	}
	h.expectCondition(ordersv1alpha1.ConditionReady, metav1.ConditionFalse, ordersv1alpha1.ReasonCompensated)
	h.expectCondition(ordersv1alpha1.ConditionStalled, metav1.ConditionTrue, ordersv1alpha1.ReasonCompensated)
	h.expectCondition(ordersv1alpha1.ConditionCompensating, metav1.ConditionFalse, ordersv1alpha1.ReasonCompensated)
	h.expectNoCondition(ordersv1alpha1.ConditionReconciling)
	if h.record(shipment).Reason != "NoCarrier" {
		t.Fatalf("participant's reason not recorded: %+v", h.record(shipment))
	}
}

func TestStepWithoutCompensationIsNotUndone(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) {
		s.Spec.Steps[1].Compensation = nil // charge-payment cannot be undone
		s.Spec.Steps = append(s.Spec.Steps, ordersv1alpha1.SagaStep{Name: "notify", Service: "mail",
			Command: ordersv1alpha1.Command{Name: "Notify"}, Timeout: "10s"})
	})
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusSucceeded, "", nil)
	h.replyTo(shipment, protocol.StatusFailed, "", nil)

	h.expectStates(compensating, succeeded, failed, skipped)
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
	h.expectStates(compensated, succeeded, failed, skipped)
	if h.record(shipment).Reason != ordersv1alpha1.StepReasonFailure {
		t.Fatalf("a failure without a reason gets %q, got %q", ordersv1alpha1.StepReasonFailure, h.record(shipment).Reason)
	}
}

func TestRetryableFailuresAreRetriedWithBackoffThenCompensated(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	first := h.record(charge).MessageID

	h.replyTo(charge, protocol.StatusRetryable, "GatewayBusy", nil)
	rec := h.record(charge)
	// Backoff after attempt 1: initialDelay 2s, equal jitter at 0 → 1s.
	if rec.State != running || rec.NextAttemptAt == nil || !rec.NextAttemptAt.Time.Equal(t0.Add(time.Second)) {
		t.Fatalf("want a retry scheduled at t0+1s, got %+v", rec)
	}
	if !h.last.RequeueAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("requeue at %s, want the retry", h.last.RequeueAt)
	}
	if out := h.at(999 * time.Millisecond); len(out.Dispatches) != 0 {
		t.Fatal("retried before the backoff ended")
	}
	out := h.at(time.Second)
	if len(out.Dispatches) != 1 || out.Dispatches[0].Attempt != 2 || out.Dispatches[0].MessageID == first {
		t.Fatalf("want attempt 2 with a new message id, got %+v", out.Dispatches)
	}
	h.replyTo(charge, protocol.StatusRetryable, "GatewayBusy", nil)
	// After attempt 2: 2s*2 = 4s nominal → 2s.
	if got := h.record(charge).NextAttemptAt.Time; !got.Equal(h.now.Add(2 * time.Second)) {
		t.Fatalf("second backoff ends %s, want now+2s", got)
	}
	h.at(4 * time.Second)
	h.replyTo(charge, protocol.StatusRetryable, "GatewayBusy", nil)

	h.expectPhase(ordersv1alpha1.PhaseCompensating)
	h.expectStates(compensating, failed, skipped)
	if rec := h.record(charge); rec.Attempts != 3 || rec.Reason != "GatewayBusy" {
		t.Fatalf("charge record %+v", rec)
	}
	if !slices.Contains(h.reasons(), "StepRetrying("+charge+")") || !slices.Contains(h.reasons(), "StepFailed("+charge+")") {
		t.Fatalf("history %v", h.reasons())
	}
}

func TestFinalFailureIsNotRetried(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil)
	if rec := h.record(charge); rec.Attempts != 1 || rec.State != failed {
		t.Fatalf("charge record %+v", rec)
	}
	h.expectPhase(ordersv1alpha1.PhaseCompensating)
}

func TestTimeoutsAreRetriedThenCompensatedIncludingTheTimedOutStep(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Retry.MaxAttempts = 2 })
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil) // at t0; charge sent at t0

	if out := h.at(9 * time.Second); len(out.Transitions) != 0 {
		t.Fatalf("timed out early: %v", out.Transitions)
	}
	h.at(10 * time.Second)
	rec := h.record(charge)
	if rec.Reason != ordersv1alpha1.StepReasonTimeout || rec.NextAttemptAt == nil {
		t.Fatalf("want a timeout with a retry scheduled, got %+v", rec)
	}
	h.at(11 * time.Second) // attempt 2 sent
	h.at(21 * time.Second) // and times out: attempts exhausted

	// The effect of a timed-out step is unknown: it is compensated.
	h.expectPhase(ordersv1alpha1.PhaseCompensating)
	h.expectStates(succeeded, compensating, skipped)
	if h.record(charge).CompensationAttempts != 1 {
		t.Fatalf("want the timed-out step's compensation sent first, got %+v", h.record(charge))
	}
	h.replyTo(charge, protocol.StatusSucceeded, "Refunded", nil)
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
	if !slices.Contains(h.reasons(), "StepTimedOut("+charge+")") {
		t.Fatalf("history %v", h.reasons())
	}
	// Why the step failed survives its compensation, whose outcome has
	// fields of its own.
	if rec := h.record(charge); rec.State != compensated || rec.Reason != ordersv1alpha1.StepReasonTimeout ||
		!strings.Contains(rec.Message, "No reply to attempt 2") || rec.CompensationReason != "Refunded" ||
		rec.CompensationMessage != "from the participant" {
		t.Fatalf("charge record %+v", rec)
	}
}

func TestTimedOutStepWithoutCompensationStaysTimedOut(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[2].Retry.MaxAttempts = 1 })
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusSucceeded, "", nil)
	h.at(10 * time.Second)
	h.expectStates(succeeded, compensating, timedOut)
}

func TestDuplicateRepliesChangeNothing(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", protocol.Result{"reservationId": protocol.String("r-1")})
	before := h.saga.Status.DeepCopy()

	v := h.replyAttempt(reserve, protocol.KindCommand, 0, 1, protocol.StatusFailed, "Late", nil)
	if v != Duplicate {
		t.Fatalf("verdict %s, want Duplicate", v)
	}
	if len(h.last.Dispatches) != 0 || len(h.last.Transitions) != 0 {
		t.Fatalf("a duplicate acted: %+v", h.last)
	}
	if !statusEqual(before, &h.saga.Status) {
		t.Fatalf("a duplicate changed the status")
	}
}

func TestReplyToAnEarlierAttemptIsIgnored(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusRetryable, "Busy", nil)
	h.at(time.Second) // attempt 2 sent
	before := h.saga.Status.DeepCopy()
	if v := h.replyAttempt(reserve, protocol.KindCommand, 0, 1, protocol.StatusSucceeded, "", nil); v != Duplicate {
		t.Fatalf("verdict %s, want Duplicate", v)
	}
	if !statusEqual(before, &h.saga.Status) {
		t.Fatal("a reply to attempt 1 changed the status while attempt 2 is awaited")
	}
}

func TestLateSuccessOfTheLastAttemptIsTakenDuringBackoff(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.at(10 * time.Second) // attempt 1 times out; retry scheduled
	if v := h.replyAttempt(reserve, protocol.KindCommand, 0, 1, protocol.StatusSucceeded, "", nil); v != Applied {
		t.Fatalf("verdict %s, want Applied", v)
	}
	h.tick()
	h.expectStates(succeeded, running, pending)
	if h.record(reserve).NextAttemptAt != nil {
		t.Fatal("retry still scheduled after success")
	}
}

func TestUnmatchedReplies(t *testing.T) {
	h := newHarness(t)
	h.tick()
	base := ReplyReceived{
		Headers: protocol.Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: "uid-1",
			Step: reserve, Kind: protocol.KindCommand, Attempt: 1},
		CorrelationID: h.record(reserve).MessageID,
		Reply:         protocol.Reply{Status: protocol.StatusSucceeded},
	}
	tests := []struct {
		name   string
		mutate func(*ReplyReceived)
	}{
		{"another saga's uid", func(r *ReplyReceived) {
			r.Headers.SagaUID = "uid-2"
			r.CorrelationID = protocol.MessageID("uid-2", reserve, protocol.KindCommand, 0, 1)
		}},
		{"headers that do not match the correlation id", func(r *ReplyReceived) { r.Headers.Attempt = 2 }},
		{"a forged correlation id", func(r *ReplyReceived) { r.CorrelationID = "00000000-0000-0000-0000-000000000000" }},
		{"an unknown step", func(r *ReplyReceived) {
			r.Headers.Step = "teleport"
			r.CorrelationID = protocol.MessageID("uid-1", "teleport", protocol.KindCommand, 0, 1)
		}},
		{"a step not started yet (status read too old)", func(r *ReplyReceived) {
			r.Headers.Step = charge
			r.CorrelationID = protocol.MessageID("uid-1", charge, protocol.KindCommand, 0, 1)
		}},
		{"an attempt not sent yet", func(r *ReplyReceived) {
			r.Headers.Attempt = 2
			r.CorrelationID = protocol.MessageID("uid-1", reserve, protocol.KindCommand, 0, 2)
		}},
		{"a compensation never sent", func(r *ReplyReceived) {
			r.Headers.Kind = protocol.KindCompensation
			r.CorrelationID = protocol.MessageID("uid-1", reserve, protocol.KindCompensation, 0, 1)
		}},
		{"a later retry round", func(r *ReplyReceived) {
			r.Headers.Round = 1
			r.CorrelationID = protocol.MessageID("uid-1", reserve, protocol.KindCommand, 1, 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.saga.Status.DeepCopy()
			ev := base
			tt.mutate(&ev)
			if out := h.m.Apply(h.saga, h.now, ev); out.Verdict != Unmatched {
				t.Fatalf("verdict %s, want Unmatched", out.Verdict)
			}
			if !statusEqual(before, &h.saga.Status) {
				t.Fatal("an unmatched reply changed the status")
			}
		})
	}
}

func TestCancelWhileRunningCompensatesTheInFlightStepToo(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.apply(Cancel{Reason: ordersv1alpha1.ReasonCancelled})

	h.expectPhase(ordersv1alpha1.PhaseCompensating)
	h.expectStates(succeeded, compensating, skipped) // charge was in flight: interrupted, then compensated
	h.expectCondition(ordersv1alpha1.ConditionCompensating, metav1.ConditionTrue, ordersv1alpha1.ReasonCancelled)
	if !slices.Contains(h.reasons(), "StepInterrupted("+charge+")") {
		t.Fatalf("history %v", h.reasons())
	}
	// A late reply to the interrupted command changes nothing.
	if v := h.replyAttempt(charge, protocol.KindCommand, 0, 1, protocol.StatusSucceeded, "", nil); v != Duplicate {
		t.Fatalf("verdict %s, want Duplicate", v)
	}
	h.replyTo(charge, protocol.StatusSucceeded, "", nil)
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
}

func TestCancelWhileCompensatingOrFinishedChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil)
	before := h.saga.Status.DeepCopy()
	if out := h.apply(Cancel{Reason: ordersv1alpha1.ReasonCancelled}); len(out.Transitions) != 0 || len(out.Dispatches) != 0 {
		t.Fatalf("cancel while compensating acted: %+v", out)
	}
	if !statusEqual(before, &h.saga.Status) {
		t.Fatal("cancel while compensating changed the status")
	}
	h.expectCondition(ordersv1alpha1.ConditionCompensating, metav1.ConditionTrue, ordersv1alpha1.ReasonStepFailed)

	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
	if out := h.apply(Cancel{Reason: ordersv1alpha1.ReasonDeleted}); len(out.Transitions) != 0 {
		t.Fatalf("cancel of a finished saga acted: %+v", out)
	}
}

func TestCancelBeforeStartSendsNothing(t *testing.T) {
	h := newHarness(t)
	out := h.apply(Cancel{Reason: ordersv1alpha1.ReasonCancelled})
	h.tick()
	if len(out.Dispatches) != 0 || len(h.sent) != 0 {
		t.Fatalf("sent %v", h.sentSummary())
	}
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
	h.expectStates(skipped, skipped, skipped)
}

func TestDeletionWhileRunningCompensates(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusSucceeded, "", nil)
	h.apply(Cancel{Reason: ordersv1alpha1.ReasonDeleted})
	h.expectCondition(ordersv1alpha1.ConditionCompensating, metav1.ConditionTrue, ordersv1alpha1.ReasonDeleted)
	h.expectStates(succeeded, compensating, interrupted) // shipping has no compensation: left interrupted
}

func TestDeadlineWhileRunningCompensates(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) { s.Spec.Deadline = "15s" })
	h.tick()
	h.at(5 * time.Second)
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil) // charge sent at t0+5s, times out at t0+15s
	if !h.last.RequeueAt.Equal(t0.Add(15 * time.Second)) {
		t.Fatalf("requeue at %s, want the deadline", h.last.RequeueAt)
	}
	h.at(15 * time.Second)
	h.expectPhase(ordersv1alpha1.PhaseCompensating)
	h.expectCondition(ordersv1alpha1.ConditionCompensating, metav1.ConditionTrue, ordersv1alpha1.ReasonDeadlineExceeded)
	h.expectStates(succeeded, compensating, skipped)
}

func TestDeadlineDoesNotStopCompensation(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) { s.Spec.Deadline = "15s" })
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil)
	h.at(20 * time.Second) // past the deadline, and the compensation's first timeout
	h.expectPhase(ordersv1alpha1.PhaseCompensating)
	if rec := h.record(reserve); rec.State != compensating || rec.NextAttemptAt == nil {
		t.Fatalf("compensation should retry past the deadline, got %+v", rec)
	}
	h.at(21 * time.Second)
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
}

func TestCompensationThatKeepsFailingStallsTheSagaUntilRetryRequested(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Retry.MaxAttempts = 2 })
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil)
	firstRound := h.record(reserve).MessageID
	h.replyTo(reserve, protocol.StatusRetryable, "WarehouseOffline", nil)
	h.at(time.Second)
	h.replyTo(reserve, protocol.StatusRetryable, "WarehouseOffline", nil)

	h.expectPhase(ordersv1alpha1.PhaseFailed)
	h.expectStates(compFailed, failed, skipped)
	if rec := h.record(reserve); rec.CompensationReason != "WarehouseOffline" || rec.Reason != "" {
		t.Fatalf("want the compensation's reason apart from the command's, got %+v", rec)
	}
	if c := meta.FindStatusCondition(h.saga.Status.Conditions, ordersv1alpha1.ConditionStalled); !strings.Contains(c.Message, "WarehouseOffline") {
		t.Fatalf("stalled condition %+v", c)
	}
	h.expectCondition(ordersv1alpha1.ConditionStalled, metav1.ConditionTrue, ordersv1alpha1.ReasonCompensationFailed)
	h.expectCondition(ordersv1alpha1.ConditionReady, metav1.ConditionFalse, ordersv1alpha1.ReasonCompensationFailed)
	h.expectCondition(ordersv1alpha1.ConditionCompensating, metav1.ConditionFalse, ordersv1alpha1.ReasonCompensationFailed)
	h.expectNoCondition(ordersv1alpha1.ConditionReconciling)
	if !h.last.RequeueAt.IsZero() {
		t.Fatalf("a failed saga must wait for a person, requeue at %s", h.last.RequeueAt)
	}
	if out := h.at(time.Hour); len(out.Dispatches) != 0 {
		t.Fatal("a failed saga acted on its own")
	}

	h.apply(RetryRequested{Token: "2026-11-27T11:00:00Z"})
	h.expectPhase(ordersv1alpha1.PhaseCompensating)
	h.expectCondition(ordersv1alpha1.ConditionCompensating, metav1.ConditionTrue, ordersv1alpha1.ReasonRetryRequested)
	out := h.tick()
	if len(out.Dispatches) != 1 || out.Dispatches[0].Round != 1 || out.Dispatches[0].Attempt != 1 ||
		out.Dispatches[0].MessageID == firstRound || h.record(reserve).CompensationAttempts != 1 {
		t.Fatalf("want attempt 1 of round 1 with a new id, got %+v", out.Dispatches)
	}
	// A reply from the first round is now a duplicate.
	if v := h.replyAttempt(reserve, protocol.KindCompensation, 0, 2, protocol.StatusSucceeded, "", nil); v != Duplicate {
		t.Fatalf("verdict %s, want Duplicate", v)
	}
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
	if h.saga.Status.LastHandledRetry != "2026-11-27T11:00:00Z" || h.saga.Status.RetryRound != 1 {
		t.Fatalf("retry bookkeeping %+v", h.saga.Status)
	}
	// The same token again does nothing.
	if out := h.apply(RetryRequested{Token: "2026-11-27T11:00:00Z"}); len(out.Transitions) != 0 {
		t.Fatal("a handled retry token acted again")
	}
}

func TestFinalCompensationFailureStallsAtOnce(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil)
	h.replyTo(reserve, protocol.StatusFailed, "ReservationLost", nil)
	h.expectPhase(ordersv1alpha1.PhaseFailed)
	if h.record(reserve).CompensationAttempts != 1 {
		t.Fatal("a final compensation failure was retried")
	}
}

func TestRetryTokenSeenBeforeFailureDoesNotTriggerLater(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Retry.MaxAttempts = 1 })
	h.tick()
	h.apply(RetryRequested{Token: "old"})
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil)
	h.replyTo(reserve, protocol.StatusRetryable, "Down", nil)
	h.expectPhase(ordersv1alpha1.PhaseFailed)
	h.apply(RetryRequested{Token: "old"})
	h.expectPhase(ordersv1alpha1.PhaseFailed)
}

func TestUnroutableCommandFailsItsStep(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Retry.MaxAttempts = 2 })
	h.tick()
	id := h.record(reserve).MessageID
	fail := DispatchFailed{Step: reserve, MessageID: id, Reason: ordersv1alpha1.StepReasonUnroutable, Message: "no queue bound to inventory.ReserveInventory"}
	if out := h.apply(fail); out.Verdict != Applied {
		t.Fatalf("verdict %s", out.Verdict)
	}
	if rec := h.record(reserve); rec.Reason != ordersv1alpha1.StepReasonUnroutable || rec.NextAttemptAt == nil {
		t.Fatalf("want a retry after an unroutable attempt, got %+v", rec)
	}
	if out := h.apply(fail); out.Verdict != Duplicate {
		t.Fatalf("the same failure twice: verdict %s", out.Verdict)
	}
	h.at(time.Second)
	h.apply(DispatchFailed{Step: reserve, MessageID: h.record(reserve).MessageID, Reason: ordersv1alpha1.StepReasonUnroutable, Message: "still none"})
	h.tick()
	h.expectPhase(ordersv1alpha1.PhaseCompensated) // nothing to undo: the command never arrived
	h.expectStates(failed, skipped, skipped)
	if h.record(reserve).Reason != ordersv1alpha1.StepReasonUnroutable {
		t.Fatalf("reason %q", h.record(reserve).Reason)
	}
}

func TestCompensationRetryableThenSucceeds(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil)
	h.replyTo(reserve, protocol.StatusRetryable, "Busy", nil)
	if !slices.Contains(h.reasons(), "StepCompensationRetrying("+reserve+")") {
		t.Fatalf("history %v", h.reasons())
	}
	h.at(time.Second)
	if h.record(reserve).CompensationAttempts != 2 {
		t.Fatalf("want compensation attempt 2, got %+v", h.record(reserve))
	}
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
}

func TestBackoff(t *testing.T) {
	policy := ordersv1alpha1.RetryPolicy{InitialDelay: "1s", Factor: 2, MaxDelay: "5s"}
	tests := []struct {
		attempts int32
		jitter   float64
		want     time.Duration
	}{
		{1, 0, 500 * time.Millisecond},
		{1, 1, time.Second},
		{2, 0, time.Second},
		{3, 0.5, 3 * time.Second},
		{4, 1, 5 * time.Second}, // 8s capped at 5s
		{10, 0, 2500 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := backoff(policy, tt.attempts, tt.jitter); got != tt.want {
			t.Errorf("backoff(%d, %.1f) = %s, want %s", tt.attempts, tt.jitter, got, tt.want)
		}
	}
	if got := backoff(ordersv1alpha1.RetryPolicy{}, 1, 1); got != defaultInitialDelay {
		t.Errorf("defaults: %s", got)
	}
	if got := backoff(ordersv1alpha1.RetryPolicy{InitialDelay: "1s", Factor: 1, MaxDelay: "1m"}, 7, 1); got != time.Second {
		t.Errorf("factor 1 is a constant delay, got %s", got)
	}
}

func TestInFlight(t *testing.T) {
	h := newHarness(t)
	if len(InFlight(h.saga)) != 0 {
		t.Fatal("a new saga has nothing in flight")
	}
	h.tick()
	got := InFlight(h.saga)
	if len(got) != 1 || got[0].MessageID != h.sent[0].MessageID || !got[0].Deadline.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("in flight %+v, sent %+v", got, h.sent)
	}
	h.replyTo(reserve, protocol.StatusRetryable, "Busy", nil)
	if len(InFlight(h.saga)) != 0 {
		t.Fatal("a step waiting to retry has nothing in flight")
	}
}

func TestObservedGeneration(t *testing.T) {
	h := newHarness(t)
	h.saga.Generation = 4
	h.tick()
	if h.saga.Status.ObservedGeneration != 4 {
		t.Fatalf("observedGeneration %d", h.saga.Status.ObservedGeneration)
	}
	for _, c := range h.saga.Status.Conditions {
		if c.ObservedGeneration != 4 {
			t.Fatalf("condition %s observedGeneration %d", c.Type, c.ObservedGeneration)
		}
	}
}

func statusEqual(a, b *ordersv1alpha1.OrderSagaStatus) bool {
	return equality.Semantic.DeepEqual(a, b)
}

func TestStepWithAnEarlierTimeoutIsCompensatedWhenItFails(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Retry.MaxAttempts = 2 })
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.at(10 * time.Second) // attempt 1 of the charge times out: it may still happen
	h.at(11 * time.Second) // attempt 2 sent
	h.apply(DispatchFailed{Step: charge, MessageID: h.record(charge).MessageID, Reason: ordersv1alpha1.StepReasonUnroutable, Message: "gone"})
	h.tick()
	if rec := h.record(charge); rec.State != compensating || rec.TimedOutAttempts != 1 {
		t.Fatalf("want the charge compensated after an uncertain attempt, got %+v", rec)
	}
}

func TestFinalFailureAfterAnEarlierTimeoutIsCompensated(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.at(10 * time.Second) // attempt 1 of the reservation times out
	h.at(11 * time.Second) // attempt 2 sent
	h.replyTo(reserve, protocol.StatusFailed, "OutOfStock", nil)
	h.expectStates(compensating, skipped, skipped)
}

func TestDuplicateRetryableReplyDuringBackoffChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusRetryable, "Busy", nil)
	before := h.saga.Status.DeepCopy()
	if v := h.replyAttempt(reserve, protocol.KindCommand, 0, 1, protocol.StatusRetryable, "Busy", nil); v != Duplicate {
		t.Fatalf("verdict %s, want Duplicate", v)
	}
	if !statusEqual(before, &h.saga.Status) {
		t.Fatal("a redelivered retryable reply postponed the retry")
	}
}

func TestLongRetryTokenIsHandledOnce(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Retry.MaxAttempts = 1 })
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil)
	h.replyTo(reserve, protocol.StatusRetryable, "Down", nil)
	h.expectPhase(ordersv1alpha1.PhaseFailed)
	token := strings.Repeat("x", 300)
	h.apply(RetryRequested{Token: token})
	h.tick()
	h.replyTo(reserve, protocol.StatusRetryable, "Down", nil)
	h.expectPhase(ordersv1alpha1.PhaseFailed)
	if out := h.apply(RetryRequested{Token: token}); len(out.Transitions) != 0 || h.saga.Status.RetryRound != 1 {
		t.Fatalf("a long token was handled twice: round %d", h.saga.Status.RetryRound)
	}
}

func TestLateCompensationSuccessResumesAFailedSaga(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Retry.MaxAttempts = 1 })
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.replyTo(charge, protocol.StatusSucceeded, "", nil)
	h.replyTo(shipment, protocol.StatusFailed, "NoCarrier", nil)
	h.at(10 * time.Second) // the refund times out, its only attempt
	h.expectPhase(ordersv1alpha1.PhaseFailed)
	if v := h.replyAttempt(charge, protocol.KindCompensation, 0, 1, protocol.StatusSucceeded, "", nil); v != Applied {
		t.Fatalf("verdict %s, want Applied", v)
	}
	h.tick()
	h.expectPhase(ordersv1alpha1.PhaseCompensating)
	h.expectStates(compensating, compensated, failed)
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
}

func TestDispatchFailureForAMessageTheStatusDoesNotShowIsUnmatched(t *testing.T) {
	h := newHarness(t)
	h.tick()
	out := h.apply(DispatchFailed{Step: charge, MessageID: protocol.MessageID("uid-1", charge, protocol.KindCommand, 0, 1),
		Reason: ordersv1alpha1.StepReasonUnroutable})
	if out.Verdict != Unmatched {
		t.Fatalf("verdict %s, want Unmatched (the status read may be stale)", out.Verdict)
	}
}
