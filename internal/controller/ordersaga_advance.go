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
	"context"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

// advanceSaga turns the saga's spec, its deletion and the time into events
// for the machine.
//
// While the broker is disconnected nothing advances: no command could leave,
// and a timeout counted while it cannot would use up attempts for nothing.
// Replies already received are still applied (by applyInbox).
func (r *OrderSagaReconciler) advanceSaga(_ context.Context, req AdvanceSaga) (SagaAdvanced, error) {
	obj := req.Saga
	var out SagaAdvanced
	apply := func(ev saga.Event) {
		applied := r.Machine.Apply(obj, req.Now, ev)
		out.Transitions = append(out.Transitions, applied.Transitions...)
		out.WakeAt = applied.RequeueAt
	}
	var cancel *saga.Cancel
	switch {
	case !obj.DeletionTimestamp.IsZero():
		cancel = &saga.Cancel{Reason: ordersv1alpha1.ReasonDeleted}
	case obj.Spec.Cancel:
		cancel = &saga.Cancel{Reason: ordersv1alpha1.ReasonCancelled}
	}
	if !r.Publisher.Connected() {
		saga.Initialize(obj)
		// A saga that sent nothing can still end on cancel or deletion: it
		// needs no message for that.
		if cancel != nil && obj.Status.Phase == ordersv1alpha1.PhasePending {
			apply(*cancel)
		}
		out.WakeAt = req.Now.Add(r.BrokerRetryInterval)
		return out, nil
	}
	if cancel != nil {
		apply(*cancel)
	}
	apply(saga.Tick{})
	return out, nil
}
