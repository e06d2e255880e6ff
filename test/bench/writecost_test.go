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

package main

import (
	"os"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

func TestEarlierIsTheStatusOneTransitionBefore(t *testing.T) {
	done := metav1.NewMicroTime(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	final := ordersv1alpha1.OrderSagaStatus{
		Phase: ordersv1alpha1.PhaseCompleted, CompletionTime: &done,
		History: []ordersv1alpha1.HistoryEntry{{Seq: 1, Reason: "Started"}, {Seq: 2, Reason: "Completed"}},
	}
	got := earlier(final)
	if got.Phase != ordersv1alpha1.PhaseRunning || got.CompletionTime != nil {
		t.Errorf("earlier: phase %q, completionTime %v; want Running and none", got.Phase, got.CompletionTime)
	}
	if len(got.History) != 1 || got.History[0].Seq != 1 {
		t.Errorf("earlier: history %v; want the first entry only", got.History)
	}
	if final.Phase != ordersv1alpha1.PhaseCompleted || len(final.History) != 2 || final.CompletionTime == nil {
		t.Errorf("earlier changed its argument: %+v", final)
	}
}

func TestParentPIDOfThisProcess(t *testing.T) {
	if got := parentPID(os.Getpid()); got != os.Getppid() {
		t.Errorf("parentPID(self) = %d, want %d", got, os.Getppid())
	}
	if got := parentPID(-1); got != 0 {
		t.Errorf("parentPID of no process = %d, want 0", got)
	}
}
