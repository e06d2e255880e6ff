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
	"cmp"
	"slices"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Parallel steps (spec.steps[].runAfter): a step starts once every step it
// runs after has succeeded or was skipped by a request. Without runAfter a
// step runs after the one listed before it, so a saga that names none runs
// its steps one after another, exactly as before runAfter existed.

// dependencies are the indices of the steps step i runs after. Admission
// keeps every name that of an earlier step; an unknown name is ignored.
func dependencies(steps []ordersv1alpha1.SagaStep, i int) []int {
	if steps[i].RunAfter == nil {
		if i == 0 {
			return nil
		}
		return []int{i - 1}
	}
	out := make([]int, 0, len(steps[i].RunAfter))
	for _, name := range steps[i].RunAfter {
		if j := slices.IndexFunc(steps[:i], func(s ordersv1alpha1.SagaStep) bool { return s.Name == name }); j >= 0 {
			out = append(out, j)
		}
	}
	return out
}

// ready reports whether every step step i runs after is done.
func (r *run) ready(i int) bool {
	for _, j := range dependencies(r.saga.RunSteps(), i) {
		if s := r.st.Steps[j].State; s != ordersv1alpha1.StepSucceeded && s != ordersv1alpha1.StepSkipped {
			return false
		}
	}
	return true
}

// isParallel reports whether any step names runAfter.
func isParallel(steps []ordersv1alpha1.SagaStep) bool {
	return slices.ContainsFunc(steps, func(s ordersv1alpha1.SagaStep) bool { return s.RunAfter != nil })
}

// compensationOrder is the order steps are compensated in: the reverse of
// spec order for a sequential saga; for a parallel one the reverse of the
// order the steps completed (completedAt), ties by reverse spec order. A
// step completes only after the steps it runs after, so this undoes a step
// before anything it depended on.
func (r *run) compensationOrder() []int {
	order := make([]int, len(r.st.Steps))
	for i := range order {
		order[i] = len(order) - 1 - i
	}
	if !isParallel(r.saga.RunSteps()) {
		return order
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ta, tb := r.st.Steps[a].CompletedAt, r.st.Steps[b].CompletedAt
		switch {
		case ta == nil && tb == nil:
			return 0
		case ta == nil:
			return -1 // not completed: as if last
		case tb == nil:
			return 1
		}
		return cmp.Compare(tb.UnixNano(), ta.UnixNano())
	})
	return order
}

// awaitInFlight handles the commands still running when a failure stopped
// the forward path: it waits for their replies or timeouts, and interrupts
// a step that waits for a retry (nothing of it is in flight). It reports
// whether any command is still awaited.
func (r *run) awaitInFlight() bool {
	waiting := false
	for i := range r.st.Steps {
		rec := &r.st.Steps[i]
		if rec.State != ordersv1alpha1.StepRunning {
			continue
		}
		if rec.NextAttemptAt != nil || rec.DispatchedAt == nil {
			r.interrupt(i)
			continue
		}
		if !r.paused() && !r.now.Before(replyDue(*rec, r.saga.RunSteps()[i])) {
			rec.TimedOutAttempts++
			r.interrupt(i)
			continue
		}
		if !waiting {
			r.st.CurrentStep = rec.Name
		}
		waiting = true
	}
	return waiting
}

// interrupt stops waiting for step i's command: its effect is unknown, so
// it is compensated in case it took effect.
func (r *run) interrupt(i int) {
	rec := &r.st.Steps[i]
	from := rec.State
	rec.State = ordersv1alpha1.StepInterrupted
	rec.NextAttemptAt, rec.TimeoutAt = nil, nil
	rec.CompletedAt = ptrMicro(r.now)
	r.stepTransition(i, protocol.KindCommand, ordersv1alpha1.TransitionStepInterrupted, true, from,
		"Stopped waiting for the reply; the step is compensated in case it took effect")
}
