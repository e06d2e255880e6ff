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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// Suspend holds a saga because a person set spec.suspend: nothing is sent
// and its timers are paused until Resume. Replies are still applied. The
// controller applies it instead of the pass's Tick.
type Suspend struct{}

// Resume ends a suspension: the timers move later by its length and the
// saga goes on with the next Tick. It does nothing to a saga that is not
// suspended.
type Resume struct{}

func (Suspend) isEvent() {}
func (Resume) isEvent()  {}

// Suspended says the saga is held by spec.suspend, as its status records.
func Suspended(s *ordersv1alpha1.OrderSaga) bool {
	return meta.IsStatusConditionTrue(s.Status.Conditions, ordersv1alpha1.ConditionSuspended)
}

const suspendedMessage = "Suspended (spec.suspend): no command or compensation is sent and the timers are paused; replies are still recorded"

func (r *run) suspend() {
	if r.st.Phase.IsFinal() || Suspended(r.saga) {
		return
	}
	meta.SetStatusCondition(&r.st.Conditions, metav1.Condition{
		Type: ordersv1alpha1.ConditionSuspended, Status: metav1.ConditionTrue, Reason: ordersv1alpha1.ReasonSuspended,
		Message: suspendedMessage, ObservedGeneration: r.saga.Generation,
	})
	phase := string(r.st.Phase)
	if phase == "" {
		phase = string(ordersv1alpha1.PhasePending)
	}
	r.out.Transitions = append(r.out.Transitions, Transition{
		Reason: ordersv1alpha1.TransitionSuspended, Warning: true, From: phase, To: phase, Message: suspendedMessage,
	})
	r.pauseTimers(r.now)
}

func (r *run) resume() {
	if !Suspended(r.saga) {
		return
	}
	meta.RemoveStatusCondition(&r.st.Conditions, ordersv1alpha1.ConditionSuspended)
	phase := string(r.st.Phase)
	r.out.Transitions = append(r.out.Transitions, Transition{
		Reason: ordersv1alpha1.TransitionResumed, From: phase, To: phase,
		Message: "Resumed (spec.suspend cleared): the timers move later by the time suspended",
	})
	r.resumeTimers()
}
