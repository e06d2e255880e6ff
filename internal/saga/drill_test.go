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
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func drillStep(name string) func(*ordersv1alpha1.OrderSaga) {
	return func(s *ordersv1alpha1.OrderSaga) {
		for i := range s.Spec.Steps {
			if s.Spec.Steps[i].Name == name {
				s.Spec.Steps[i].Drill = ordersv1alpha1.DrillFail
			}
		}
	}
}

// drillCase is one saga run of TestDrills.
type drillCase struct {
	name string
	// drilled is the step failed on purpose; "" runs no drill.
	drilled string
	// run drives the saga after its first tick, replying to what it sent.
	run        func(h *harness)
	wantPhase  ordersv1alpha1.SagaPhase
	wantStates []ordersv1alpha1.StepState
	wantSent   []string
	wantDrill  bool
	// wantHistory is the saga's history, if checked.
	wantHistory []string
}

func TestDrills(t *testing.T) {
	tests := []drillCase{
		{
			name: "a drilled step is not sent and the steps before it are compensated for real", drilled: charge,
			run: func(h *harness) {
				h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
				h.replyTo(reserve, protocol.StatusSucceeded, "", nil) // its compensation
			},
			wantPhase:  ordersv1alpha1.PhaseCompensated,
			wantStates: []ordersv1alpha1.StepState{compensated, failed, skipped},
			wantSent:   []string{reserve + "/command#1", reserve + "/compensation#1"},
			wantDrill:  true,
			wantHistory: []string{"Started", "StepStarted(" + reserve + ")", "StepSucceeded(" + reserve + ")",
				"StepDrilled(" + charge + ")", "CompensationStarted", "StepCompensating(" + reserve + ")",
				"StepCompensated(" + reserve + ")", "Compensated"},
		},
		{
			name: "a drilled first step is compensated with nothing to undo", drilled: reserve,
			wantPhase:   ordersv1alpha1.PhaseCompensated,
			wantStates:  []ordersv1alpha1.StepState{failed, skipped, skipped},
			wantDrill:   true,
			wantHistory: []string{"Started", "StepDrilled(" + reserve + ")", "CompensationStarted", "Compensated"},
		},
		{
			name: "a drilled last step compensates every step before it, in reverse", drilled: shipment,
			run: func(h *harness) {
				h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
				h.replyTo(charge, protocol.StatusSucceeded, "", nil)
				h.replyTo(charge, protocol.StatusSucceeded, "", nil)
				h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
			},
			wantPhase:  ordersv1alpha1.PhaseCompensated,
			wantStates: []ordersv1alpha1.StepState{compensated, compensated, failed},
			wantSent: []string{reserve + "/command#1", charge + "/command#1",
				charge + "/compensation#1", reserve + "/compensation#1"},
			wantDrill: true,
		},
		{
			name: "a step before the drill that fails for real ends the saga before the drill is reached", drilled: shipment,
			run: func(h *harness) {
				h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
				h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil)
				h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
			},
			wantPhase:  ordersv1alpha1.PhaseCompensated,
			wantStates: []ordersv1alpha1.StepState{compensated, failed, skipped},
			wantSent:   []string{reserve + "/command#1", charge + "/command#1", reserve + "/compensation#1"},
			wantDrill:  true, // a drill all the same: it was started as one
		},
		{
			name: "a saga without a drill is not marked",
			run: func(h *harness) {
				h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
				h.replyTo(charge, protocol.StatusSucceeded, "", nil)
				h.replyTo(shipment, protocol.StatusSucceeded, "", nil)
			},
			wantPhase:  ordersv1alpha1.PhaseCompleted,
			wantStates: []ordersv1alpha1.StepState{succeeded, succeeded, succeeded},
			wantSent:   []string{reserve + "/command#1", charge + "/command#1", shipment + "/command#1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

func (tt drillCase) check(t *testing.T) {
	h := newHarness(t, drillStep(tt.drilled), func(s *ordersv1alpha1.OrderSaga) {
		s.Spec.Steps[2].Compensation = &ordersv1alpha1.Command{Name: "CancelShipment"}
	})
	h.tick()
	if tt.run != nil {
		tt.run(h)
	}
	h.expectPhase(tt.wantPhase)
	h.expectStates(tt.wantStates...)
	if !slices.Equal(h.sentSummary(), tt.wantSent) {
		t.Fatalf("sent %v, want %v", h.sentSummary(), tt.wantSent)
	}
	if h.saga.Status.Drill != tt.wantDrill {
		t.Fatalf("status.drill %t, want %t", h.saga.Status.Drill, tt.wantDrill)
	}
	if tt.wantHistory != nil && !slices.Equal(h.reasons(), tt.wantHistory) {
		t.Fatalf("history %v, want %v", h.reasons(), tt.wantHistory)
	}
	for _, d := range h.sent {
		if tt.drilled != "" && d.Step == tt.drilled {
			t.Fatalf("the drilled step's %s was sent: %+v", d.Kind, d)
		}
	}
}

func TestADrilledStepRecordsReasonDrillAndItsTransitionsAndConditionsSayDrill(t *testing.T) {
	drillMessage := "Step charge-payment failed on purpose (drill)"
	h := newHarness(t, drillStep(charge))
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)

	rec := h.record(charge)
	if rec.State != failed || rec.Reason != ordersv1alpha1.StepReasonDrill || rec.Attempts != 0 || rec.MessageID != "" ||
		rec.StartedAt != nil || rec.CompletedAt == nil {
		t.Fatalf("drilled step record %+v", rec)
	}
	h.expectCondition(ordersv1alpha1.ConditionCompensating, metav1.ConditionTrue, ordersv1alpha1.ReasonDrill)
	var drilled, started *Transition
	for i, tr := range h.history {
		switch tr.Reason {
		case ordersv1alpha1.TransitionStepDrilled:
			drilled = &h.history[i]
		case ordersv1alpha1.TransitionCompensationStarted:
			started = &h.history[i]
		}
	}
	if drilled == nil || drilled.Step != charge || drilled.Warning || drilled.To != string(failed) ||
		drilled.Message != drillMessage+": its command was not sent" {
		t.Fatalf("StepDrilled transition %+v", drilled)
	}
	if started == nil || started.Message != drillMessage {
		t.Fatalf("CompensationStarted transition %+v", started)
	}
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
	h.expectCondition(ordersv1alpha1.ConditionStalled, metav1.ConditionTrue, ordersv1alpha1.ReasonCompensated)
	if c := h.saga.Status.Conditions; !slices.ContainsFunc(c, func(c metav1.Condition) bool {
		return c.Type == ordersv1alpha1.ConditionReady && c.Message == "Compensation finished. Cause: "+drillMessage
	}) {
		t.Fatalf("Ready does not tell the drill: %+v", c)
	}
}

func TestADrillOfATemplateStepIsTakenFromThePinnedTemplate(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) {
		steps := slices.Clone(s.Spec.Steps)
		steps[0].Drill = ordersv1alpha1.DrillFail
		s.Spec.Steps = nil
		s.Spec.TemplateRef = &ordersv1alpha1.TemplateReference{Name: "checkout"}
		s.Status.Template = &ordersv1alpha1.PinnedTemplate{Name: "checkout", Generation: 1, Steps: steps}
	})
	h.tick()
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
	h.expectStates(failed, skipped, skipped)
	if !h.saga.Status.Drill || len(h.sent) != 0 {
		t.Fatalf("drill %t, sent %v", h.saga.Status.Drill, h.sentSummary())
	}
}
