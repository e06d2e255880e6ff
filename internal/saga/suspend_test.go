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
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func TestSuspendHoldsTheSagaAndResumeGivesItTheTimeItHadLeft(t *testing.T) {
	h := newHarness(t)
	h.tick() // the reservation is sent at t0; its reply is due at t0+10s
	h.now = t0.Add(4 * time.Second)

	out := h.apply(Suspend{})

	if len(out.Dispatches) != 0 || !out.RequeueAt.IsZero() {
		t.Fatalf("a suspended saga sent or asked to be woken: %+v", out)
	}
	h.expectCondition(ordersv1alpha1.ConditionSuspended, metav1.ConditionTrue, ordersv1alpha1.ReasonSuspended)
	if !Suspended(h.saga) || h.saga.Status.TimersPausedAt == nil {
		t.Fatal("suspended without pausing the timers")
	}
	// The participant answers while the saga is held: recorded, nothing sent.
	if v := h.replyThen(Suspend{}, reserve, protocol.StatusSucceeded, "", nil); v != Applied {
		t.Fatalf("verdict %v", v)
	}
	h.expectStates(succeeded, pending, pending)
	if again := h.apply(Suspend{}); len(again.Transitions) != 0 {
		t.Fatalf("suspending twice transitioned: %v", again.Transitions)
	}

	h.now = t0.Add(time.Hour)
	out = h.apply(Resume{})
	h.expectNoCondition(ordersv1alpha1.ConditionSuspended)
	if st := h.saga.Status; st.TimersPausedAt != nil || st.TimersPausedFor != "59m56s" {
		t.Fatalf("timersPausedAt %v, timersPausedFor %q; want cleared, 59m56s (extends the deadline)", st.TimersPausedAt, st.TimersPausedFor)
	}
	h.tick()
	if got := h.sentSummary(); got[len(got)-1] != charge+"/command#1" {
		t.Fatalf("the next command did not go on resume: %v", got)
	}
	if want := []string{"Suspended", "Resumed"}; !containsInOrder(h.reasons(), want) {
		t.Fatalf("history %v lacks %v", h.reasons(), want)
	}
}

func TestSuspendAndResumeLeaveWhatTheyDoNotApplyTo(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness)
		ev    Event
	}{
		{"suspend of a completed saga", func(h *harness) {
			h.tick()
			h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
			h.replyTo(charge, protocol.StatusSucceeded, "", nil)
			h.replyTo(shipment, protocol.StatusSucceeded, "", nil)
		}, Suspend{}},
		{"resume of a saga not suspended", func(h *harness) { h.tick() }, Resume{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.setup(h)
			before := h.saga.Status.DeepCopy()
			out := h.apply(tt.ev)
			if len(out.Transitions) != 0 || len(out.Dispatches) != 0 || !statusEqual(before, &h.saga.Status) {
				t.Fatalf("acted: %+v", out)
			}
		})
	}
}

func TestASuspendedPendingSagaSendsNothing(t *testing.T) {
	h := newHarness(t)
	Initialize(h.saga)
	out := h.apply(Suspend{})
	if len(out.Dispatches) != 0 || h.saga.Status.Phase != ordersv1alpha1.PhasePending {
		t.Fatalf("phase %s, sent %v", h.saga.Status.Phase, out.Dispatches)
	}
	h.expectCondition(ordersv1alpha1.ConditionSuspended, metav1.ConditionTrue, ordersv1alpha1.ReasonSuspended)
	h.apply(Resume{})
	h.tick()
	h.expectPhase(ordersv1alpha1.PhaseRunning)
}

// containsInOrder says want appears in got as a subsequence.
func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
