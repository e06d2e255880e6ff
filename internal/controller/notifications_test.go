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

package controller

import (
	"testing"

	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

func TestEventPolicy(t *testing.T) {
	transitions := map[string]saga.Transition{
		"phase":        {Reason: "Completed"},
		"sent":         {Reason: "StepStarted", Step: "pay"},
		"compensating": {Reason: "StepCompensating", Step: "pay"},
		"outcome":      {Reason: "StepSucceeded", Step: "pay"},
	}
	want := map[EventPolicy][]string{
		EventsAll:      {"phase", "sent", "compensating", "outcome"},
		EventsOutcomes: {"phase", "outcome"},
		"":             {"phase", "outcome"},
		EventsPhases:   {"phase"},
	}
	for policy, recorded := range want {
		for name, tr := range transitions {
			got := policy.records(tr)
			expected := false
			for _, r := range recorded {
				expected = expected || r == name
			}
			if got != expected {
				t.Errorf("policy %q, transition %s: records %v, want %v", policy, name, got, expected)
			}
		}
	}
	if EventPolicy("verbose").Valid() || !EventsPhases.Valid() {
		t.Error("Valid")
	}
}
