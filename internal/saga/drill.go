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
	"fmt"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// A compensation drill (spec.steps[].drill) rehearses compensation without
// breaking a service: the drilled step fails on purpose when the saga
// reaches it, its command is never sent, and the steps before it are
// compensated for real, as after any failure.

// markDrill records, as the saga starts, whether it is a drill, in the
// status write its start causes anyway.
func (r *run) markDrill() {
	r.st.Drill = ordersv1alpha1.IsDrill(r.saga.RunSteps())
}

// drill fails step i on purpose if it is drilled, instead of sending its
// command, and starts compensation; it reports whether it did.
func (r *run) drill(i int) bool {
	if r.saga.RunSteps()[i].Drill != ordersv1alpha1.DrillFail {
		return false
	}
	rec := &r.st.Steps[i]
	from := rec.State
	message := fmt.Sprintf("Step %s failed on purpose (drill)", rec.Name)
	rec.State = ordersv1alpha1.StepFailed
	rec.CompletedAt = ptrMicro(r.now)
	setOutcome(rec, protocol.KindCommand, ordersv1alpha1.StepReasonDrill, message+": its command was not sent")
	r.stepTransition(i, protocol.KindCommand, ordersv1alpha1.TransitionStepDrilled, false, from, message+": its command was not sent")
	r.beginCompensation(ordersv1alpha1.ReasonDrill, message)
	return true
}
