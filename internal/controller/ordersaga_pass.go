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

	ctrl "sigs.k8s.io/controller-runtime"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/mediator"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

// runPass is one reconcile pass: decide on the working copy, write the
// status once, and only then act: settle the replies, send commands, tell
// what changed, publish lifecycle events, and let a finished saga go. Each
// step is dispatched through the reconciler's bus, which logs and times it;
// each line names the step's handler.
//
// A step that finds the view stale returns errStaleView before anything
// irreversible happened; Reconcile then refreshes the scope and runs the
// pass again.
func (r *OrderSagaReconciler) runPass(ctx context.Context, s *scope) (ctrl.Result, error) {
	ensured, err := mediator.Call(ctx, r.bus, r.ensureFinalizer, EnsureFinalizer{Saga: s.saga})
	if err != nil {
		return ctrl.Result{}, err
	}
	if ensured.Added {
		s.base = s.saga.DeepCopy() // the patch returned the new resourceVersion
	}
	resolved, err := mediator.Call(ctx, r.bus, r.resolveTemplate, ResolveTemplate{Saga: s.saga})
	if err != nil {
		return ctrl.Result{}, err
	}
	if !resolved.Ready {
		// Nothing to run yet: record that it waits, and wait for the template.
		_, err := mediator.Call(ctx, r.bus, r.persistStatus, PersistStatus{Base: s.base, Saga: s.saga})
		return ctrl.Result{}, err
	}
	found, err := mediator.Call(ctx, r.bus, r.lookupParticipants, LookupParticipants{Saga: s.saga})
	if err != nil {
		return ctrl.Result{}, err
	}
	applied, err := mediator.Call(ctx, r.bus, r.applyInbox, ApplyInbox{Saga: s.saga, Items: s.items, Now: s.now, Live: s.live,
		Participants: found.Participants})
	if err != nil {
		return ctrl.Result{}, err
	}
	advanced, err := mediator.Call(ctx, r.bus, r.advanceSaga, AdvanceSaga{Saga: s.saga, Now: s.now, Participants: found.Participants})
	if err != nil {
		return ctrl.Result{}, err
	}
	revived, err := mediator.Call(ctx, r.bus, r.reviveSaga, ReviveSaga{Base: s.base, Saga: s.saga})
	if err != nil {
		return ctrl.Result{}, err
	}
	if revived.Base != nil {
		s.base = revived.Base
		s.saga.ObjectMeta = *revived.Base.ObjectMeta.DeepCopy()
	}
	persisted, err := mediator.Call(ctx, r.bus, r.persistStatus, PersistStatus{Base: s.base, Saga: s.saga})
	if err != nil {
		return ctrl.Result{}, err
	}
	s.persisted = persisted.Written
	// The next command goes out before the transitions are told: their
	// subscribers (lifecycle events awaiting the broker's confirms, Events,
	// logs) would otherwise sit between a reply and the command it lets go.
	// They are told however the two steps end.
	_, err = mediator.Call(ctx, r.bus, r.settleInbox, SettleInbox{Saga: s.saga, Items: s.items, Verdicts: applied.Verdicts})
	var dispatched CommandsDispatched
	if err == nil {
		s.items = nil
		dispatched, err = mediator.Call(ctx, r.bus, r.dispatchCommands, DispatchCommands{Saga: s.saga, Fresh: s.fresh(), Now: s.now})
	}
	r.announce(ctx, s.saga, persisted.Written, append(applied.Transitions, advanced.Transitions...))
	if err != nil {
		return ctrl.Result{}, err
	}
	published, err := mediator.Call(ctx, r.bus, r.publishEvents, PublishEvents{Saga: s.saga, Now: s.now})
	if err != nil {
		return ctrl.Result{}, err
	}
	retiring, err := mediator.Call(ctx, r.bus, r.retireSaga, RetireSaga{Saga: s.saga, Now: s.now})
	if err != nil || retiring.Retired || retiring.Deleted {
		return ctrl.Result{}, err
	}
	if _, err := mediator.Call(ctx, r.bus, r.finalizeSaga, FinalizeSaga{Saga: s.saga}); err != nil {
		return ctrl.Result{}, err
	}
	return requeueAt(s.now, advanced.WakeAt, dispatched.RetryAt, published.RetryAt, retiring.WakeAt), nil
}

// The steps of a pass, in order: each request and its response.
type (
	// EnsureFinalizer adds the finalizer to a saga that is not being deleted,
	// so that deleting it waits for compensation. The patch updates Saga's
	// metadata in place, so the pass goes on without waiting for the watch.
	EnsureFinalizer struct{ Saga *ordersv1alpha1.OrderSaga }
	// FinalizerEnsured says whether the finalizer was added in this pass.
	FinalizerEnsured struct{ Added bool }

	// ResolveTemplate pins the SagaTemplate the saga names, once, in its
	// status.
	ResolveTemplate struct{ Saga *ordersv1alpha1.OrderSaga }
	// TemplateResolved says whether the saga has its steps (Ready), and
	// whether this pass pinned them.
	TemplateResolved struct{ Ready, Pinned bool }

	// LookupParticipants reads the registry for the saga: the Participant
	// of each service its steps name, from the cache.
	LookupParticipants struct{ Saga *ordersv1alpha1.OrderSaga }
	// ParticipantsFound is the saga's registry for this pass.
	ParticipantsFound struct{ Participants saga.Participants }

	// ApplyInbox applies the saga's inbox items (replies, failed dispatches,
	// retry requests) to the working copy. Live says the saga was read from
	// the apiserver; Participants decide who may reply.
	ApplyInbox struct {
		Saga         *ordersv1alpha1.OrderSaga
		Items        []*InboxItem
		Now          time.Time
		Live         bool
		Participants saga.Participants
	}
	// InboxApplied says what became of each item and what changed.
	InboxApplied struct {
		Verdicts    map[*InboxItem]saga.Verdict
		Transitions []saga.Transition
	}

	// AdvanceSaga applies cancel, deletion and time to the working copy: it
	// starts the saga, sends the next command, fires timeouts, retries and
	// the deadline, and compensates.
	AdvanceSaga struct {
		Saga         *ordersv1alpha1.OrderSaga
		Now          time.Time
		Participants saga.Participants
	}
	// SagaAdvanced lists what changed and when the saga next needs a pass
	// if nothing else happens (zero: never).
	SagaAdvanced struct {
		Transitions []saga.Transition
		WakeAt      time.Time
	}

	// PersistStatus writes the working copy's status, if it differs from
	// Base, in one patch that carries Base's resourceVersion.
	PersistStatus struct{ Base, Saga *ordersv1alpha1.OrderSaga }
	// StatusPersisted says whether a write happened.
	StatusPersisted struct{ Written bool }

	// SettleInbox acknowledges the replies the persisted status accounts for
	// and dead-letters those no message of the saga explains, then takes the
	// items out of the inbox.
	SettleInbox struct {
		Saga     *ordersv1alpha1.OrderSaga
		Items    []*InboxItem
		Verdicts map[*InboxItem]saga.Verdict
	}
	// InboxSettled counts what was done with the replies.
	InboxSettled struct{ Acknowledged, DeadLettered int }

	// DispatchCommands sends every message the saga's status has in flight
	// that this process has not sent yet. Fresh says the view is known to be
	// the latest; a message is only ever sent from such a view.
	DispatchCommands struct {
		Saga  *ordersv1alpha1.OrderSaga
		Fresh bool
		Now   time.Time
	}
	// CommandsDispatched counts the messages sent and says when to try
	// again those that could not be (zero: nothing to retry).
	CommandsDispatched struct {
		Sent    int
		RetryAt time.Time
	}

	// FinalizeSaga releases a deleted saga once it has nothing left to undo.
	FinalizeSaga struct{ Saga *ordersv1alpha1.OrderSaga }
	// SagaFinalized says whether the finalizer was removed.
	SagaFinalized struct{ Released bool }
)

// requeueAt turns the earliest of the given times into a result; zero times
// are ignored. A little late rather than early: a timeout checked a hair
// before it expires would need one more pass.
func requeueAt(now time.Time, times ...time.Time) ctrl.Result {
	var at time.Time
	for _, t := range times {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	if at.IsZero() {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: max(at.Sub(now), 0) + 5*time.Millisecond}
}
