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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// initializeStatus gives a new saga its first status: Pending, a record per
// step, and the kstatus conditions of a saga that has work to do.
func initializeStatus(saga *ordersv1alpha1.OrderSaga) {
	st := &saga.Status
	st.Phase = ordersv1alpha1.PhasePending
	st.ObservedGeneration = saga.Generation
	st.Steps = make([]ordersv1alpha1.StepStatus, len(saga.Spec.Steps))
	for i, step := range saga.Spec.Steps {
		st.Steps[i] = ordersv1alpha1.StepStatus{Name: step.Name, State: ordersv1alpha1.StepPending}
	}
	setCondition(saga, ordersv1alpha1.ConditionReady, metav1.ConditionFalse, ordersv1alpha1.ReasonPending, "No command sent yet")
	setCondition(saga, ordersv1alpha1.ConditionReconciling, metav1.ConditionTrue, ordersv1alpha1.ReasonPending, "No command sent yet")
}

func setCondition(saga *ordersv1alpha1.OrderSaga, condType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&saga.Status.Conditions, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: saga.Generation,
	})
}
