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
	"time"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

// advanceSaga turns the saga's spec, its deletion and the time into events
// for the machine.
//
// While no command can leave (the broker is down or blocks publishers), the
// saga's timers are paused from the moment the broker was lost: no step
// fails and no deadline passes because the operator could not send or
// receive. Replies already received are still applied (by applyInbox), and a
// saga that sent nothing still ends on cancel or deletion. When the broker is
// back, the timers resume, moved later by the pause, before time is applied.
//
// A saga whose spec.suspend is set is held the same way, by a person: its
// timers pause and nothing is sent until spec.suspend is cleared.
func (r *OrderSagaReconciler) advanceSaga(_ context.Context, req AdvanceSaga) (SagaAdvanced, error) {
	obj := req.Saga
	m := r.Machine
	m.Participants = req.Participants
	var out SagaAdvanced
	apply := func(ev saga.Event) {
		applied := m.Apply(obj, req.Now, ev)
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
	if obj.Spec.Suspend && !obj.Status.Phase.IsFinal() {
		// Held by a person: a cancel takes effect now only if it needs no
		// message; otherwise on resume. The spec change that resumes it
		// wakes the saga.
		saga.Initialize(obj)
		if cancel != nil && obj.Status.Phase == ordersv1alpha1.PhasePending {
			apply(*cancel)
		}
		apply(saga.Suspend{})
		out.WakeAt = time.Time{}
		return out, nil
	}
	apply(saga.Resume{})
	if since := r.Publisher.UnavailableSince(); !since.IsZero() {
		saga.Initialize(obj)
		if cancel != nil && obj.Status.Phase == ordersv1alpha1.PhasePending {
			apply(*cancel) // it needs no message for that
		}
		apply(saga.PauseTimers{Since: since, Reason: ordersv1alpha1.ReasonBrokerUnavailable,
			Message: "No command can leave: the broker is disconnected or blocks publishing"})
		// The broker watch wakes every saga when the broker is back; this
		// is only the safety net.
		out.WakeAt = req.Now.Add(pausedRecheckInterval)
		return out, nil
	}
	if cancel != nil {
		apply(*cancel)
	}
	// A suspended participant gets nothing and the saga's timers stay
	// paused while the step it is at belongs to one; the Participant's
	// resumption wakes the saga.
	if _, suspended := suspendedParticipant(obj, req.Participants); !suspended {
		apply(saga.ResumeTimers{})
	}
	apply(saga.Tick{})
	if service, suspended := suspendedParticipant(obj, req.Participants); suspended {
		apply(saga.PauseTimers{Since: req.Now, Reason: ordersv1alpha1.ReasonParticipantSuspended,
			Message: "Participant " + service + " is suspended: nothing is sent to it and the saga's timers are paused"})
		out.WakeAt = time.Time{}
	} else if obj.Status.TimersPausedAt != nil {
		// The saga moved on to a step whose participant is not suspended.
		apply(saga.ResumeTimers{})
		apply(saga.Tick{})
	}
	return out, nil
}

// pausedRecheckInterval is how long a saga whose timers are paused waits
// for a pass if the broker watch does not wake it first.
const pausedRecheckInterval = 30 * time.Second
