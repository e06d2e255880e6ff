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
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

// RequestVerb is a command: a SagaRequest asks for a manual verb on Saga.
// The saga's next pass applies it once, and records the outcome in
// status.handledRequests.
type RequestVerb struct {
	Saga    types.NamespacedName
	Request saga.VerbRequested
}

// VerbQueued says the request was queued for the saga's next pass.
type VerbQueued struct{ Queued bool }

// ErrInvalidVerbRequest refuses a request without a uid, which could not be
// applied exactly once.
var ErrInvalidVerbRequest = errors.New("verb request needs the SagaRequest's uid and name")

// requestVerb queues a verb in the saga's inbox, which wakes its pass; the
// machine decides whether it applies, once per request uid. Its sender (the
// SagaRequest controller) has just read the saga live and checked that it
// exists and has not handled the request; a retired saga's pass runs on a
// live read too (forget).
func (r *OrderSagaReconciler) requestVerb(_ context.Context, cmd RequestVerb) (VerbQueued, error) {
	if cmd.Request.UID == "" || cmd.Request.Name == "" {
		return VerbQueued{}, ErrInvalidVerbRequest
	}
	r.Inbox.Add(cmd.Saga, &InboxItem{Event: cmd.Request, Received: r.Clock.Now()})
	return VerbQueued{Queued: true}, nil
}

// reviveSaga brings a retired saga back into the operator when a verb
// (Compensate) gave it work again: one metadata patch removes
// FinishedLabel and ExpiresAnnotation, which puts it back in the cache and
// stops its deletion, and adds the finalizer back. It runs before the
// status write that records the verb, so that no state is written in which
// a saga with work to do is out of the cache: if the operator stops in
// between, the saga is retired again by its next pass and the request,
// still Pending, is sent again.
func (r *OrderSagaReconciler) reviveSaga(ctx context.Context, req ReviveSaga) (SagaRevived, error) {
	if !retired(req.Saga) || req.Saga.Status.Phase.IsFinal() || !req.Base.DeletionTimestamp.IsZero() {
		return SagaRevived{}, nil
	}
	obj := req.Base.DeepCopy() // the stored status: the working copy's is written next
	base := obj.DeepCopy()
	delete(obj.Labels, ordersv1alpha1.FinishedLabel)
	delete(obj.Annotations, ordersv1alpha1.ExpiresAnnotation)
	controllerutil.AddFinalizer(obj, ordersv1alpha1.Finalizer)
	if err := r.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return SagaRevived{}, staleView(fmt.Errorf("revive retired saga: %w", err))
	}
	// It retired with every event out: what its stored history holds is
	// published, whatever its publishedThrough says, and is not sent again.
	r.events.record(req.Saga, saga.LastSeq(&req.Base.Status))
	return SagaRevived{Base: obj}, nil
}

// The revival step of a pass.
type (
	// ReviveSaga takes a retired saga that has work again (Base as stored,
	// Saga the working copy) back into the operator.
	ReviveSaga struct{ Base, Saga *ordersv1alpha1.OrderSaga }
	// SagaRevived is the saga as stored after the revival, nil if none was
	// needed.
	SagaRevived struct{ Base *ordersv1alpha1.OrderSaga }
)
