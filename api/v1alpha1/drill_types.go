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

package v1alpha1

// StepDrill is what a compensation drill does to a step.
// +kubebuilder:validation:Enum=Fail
type StepDrill string

const (
	// DrillFail: the step fails on purpose when the saga reaches it; its
	// command is not sent, so the steps before it are compensated.
	DrillFail StepDrill = "Fail"
)

// DrillsLabel, set to DrillsEnabled on a namespace, lets its OrderSagas and
// SagaTemplates drill steps. Elsewhere the admission policy of
// config/admission refuses a drilled step.
const (
	DrillsLabel   = "orders.ordersaga.io/drills"
	DrillsEnabled = "enabled"
)

// IsDrill reports whether any step the saga runs (or would run, before its
// template is pinned: its own) is drilled.
func IsDrill(steps []SagaStep) bool {
	for _, s := range steps {
		if s.Drill != "" {
			return true
		}
	}
	return false
}
