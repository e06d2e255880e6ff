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
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// syncConditions derives Ready, Reconciling and Stalled from the phase, the
// kstatus way: Ready is always present; Reconciling and Stalled only while
// true. Compensating is set by the transitions that start and end
// compensation.
func syncConditions(saga *ordersv1alpha1.OrderSaga, attemptLimit func(i int, kind protocol.Kind) int32) {
	st := &saga.Status
	st.ObservedGeneration = saga.Generation
	set := func(t string, s metav1.ConditionStatus, reason, message string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: t, Status: s, Reason: reason, Message: message, ObservedGeneration: saga.Generation,
		})
	}
	inProgress := func(reason, message string) {
		set(ordersv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
		set(ordersv1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, message)
		meta.RemoveStatusCondition(&st.Conditions, ordersv1alpha1.ConditionStalled)
	}
	stalled := func(reason, message string) {
		set(ordersv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
		set(ordersv1alpha1.ConditionStalled, metav1.ConditionTrue, reason, message)
		meta.RemoveStatusCondition(&st.Conditions, ordersv1alpha1.ConditionReconciling)
	}
	switch st.Phase {
	case "", ordersv1alpha1.PhasePending:
		inProgress(ordersv1alpha1.ReasonPending, "No command sent yet")
	case ordersv1alpha1.PhaseRunning:
		inProgress(ordersv1alpha1.ReasonRunning, currentStepMessage(saga, "Running", attemptLimit))
	case ordersv1alpha1.PhaseCompensating:
		inProgress(ordersv1alpha1.ReasonCompensating, currentStepMessage(saga, "Compensating", attemptLimit))
	case ordersv1alpha1.PhaseCompleted:
		set(ordersv1alpha1.ConditionReady, metav1.ConditionTrue, ordersv1alpha1.ReasonCompleted,
			fmt.Sprintf("All %d steps succeeded", len(st.Steps)))
		meta.RemoveStatusCondition(&st.Conditions, ordersv1alpha1.ConditionReconciling)
		meta.RemoveStatusCondition(&st.Conditions, ordersv1alpha1.ConditionStalled)
	case ordersv1alpha1.PhaseCompensated:
		stalled(ordersv1alpha1.ReasonCompensated, conditionMessage(st, "Saga compensated"))
	case ordersv1alpha1.PhaseFailed:
		stalled(ordersv1alpha1.ReasonCompensationFailed, conditionMessage(st, "Compensation failed"))
	}
}

func currentStepMessage(saga *ordersv1alpha1.OrderSaga, verb string, attemptLimit func(i int, kind protocol.Kind) int32) string {
	if at := saga.Status.TimersPausedAt; at != nil {
		return fmt.Sprintf("%s: timers paused since %s; no message is sent and no timeout, retry or deadline comes due until they resume",
			verb, at.UTC().Format(time.RFC3339))
	}
	for i, rec := range saga.Status.Steps {
		if rec.Name != saga.Status.CurrentStep {
			continue
		}
		if verb == "Compensating" && rec.State == ordersv1alpha1.StepRunning {
			return fmt.Sprintf("%s: waiting for the reply to step %s's command, in flight when the saga failed", verb, rec.Name)
		}
		attempt, limit := rec.Attempts, attemptLimit(i, protocol.KindCommand)
		if verb == "Compensating" {
			attempt, limit = rec.CompensationAttempts, attemptLimit(i, protocol.KindCompensation)
		}
		if rec.NextAttemptAt != nil {
			return fmt.Sprintf("%s step %s: waiting to send attempt %d of %d", verb, rec.Name, attempt+1, limit)
		}
		return fmt.Sprintf("%s step %s: attempt %d of %d sent", verb, rec.Name, attempt, limit)
	}
	return verb
}

// conditionMessage reuses the Compensating condition's message, which says
// how compensation ended and why it started.
func conditionMessage(st *ordersv1alpha1.OrderSagaStatus, fallback string) string {
	if c := meta.FindStatusCondition(st.Conditions, ordersv1alpha1.ConditionCompensating); c != nil && c.Message != "" {
		return c.Message
	}
	return fallback
}
