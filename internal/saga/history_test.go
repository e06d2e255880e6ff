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

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func TestHistoryRecordsEachTransitionInTheSameStatus(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
	h.now = t0.Add(time.Second)
	h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil)

	hist := h.saga.Status.History
	want := []string{"Started", "StepStarted", "StepSucceeded", "StepStarted", "StepFailed", "CompensationStarted", "StepCompensating"}
	if len(hist) != len(want) {
		t.Fatalf("history %+v, want %d entries", hist, len(want))
	}
	for i, e := range hist {
		if string(e.Reason) != want[i] || e.Seq != int32(i+1) {
			t.Errorf("entry %d: %+v, want seq %d reason %s", i, e, i+1, want[i])
		}
	}
	if hist[4].Step != charge || hist[4].Message == "" || !hist[4].Time.Time.Equal(t0.Add(time.Second)) {
		t.Errorf("entry %+v: want the step, the message and the time of the transition", hist[4])
	}
	if got := LastSeq(&h.saga.Status); got != 7 {
		t.Errorf("LastSeq = %d, want 7", got)
	}
}

func TestHistoryIsBoundedAndCountsWhatItDrops(t *testing.T) {
	st := &ordersv1alpha1.OrderSagaStatus{}
	for round := range 3 { // 3 × 25 transitions, one quiet each round
		r := &run{st: st, now: t0.Add(time.Duration(round) * time.Minute)}
		for i := range 25 {
			r.out.Transitions = append(r.out.Transitions, Transition{Reason: ordersv1alpha1.TransitionStepRetrying, Quiet: i == 0})
		}
		r.recordHistory()
	}
	if len(st.History) != ordersv1alpha1.MaxHistory {
		t.Fatalf("history has %d entries, want %d", len(st.History), ordersv1alpha1.MaxHistory)
	}
	if st.HistoryDropped != 72-int32(ordersv1alpha1.MaxHistory) {
		t.Fatalf("dropped %d, want %d", st.HistoryDropped, 72-ordersv1alpha1.MaxHistory)
	}
	if st.History[0].Seq != st.HistoryDropped+1 || LastSeq(st) != 72 {
		t.Fatalf("first seq %d, last %d: want the oldest counted, the rest numbered on to 72", st.History[0].Seq, LastSeq(st))
	}
}
