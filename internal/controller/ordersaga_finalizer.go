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
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// ensureFinalizer adds the finalizer with a patch that carries the
// resourceVersion read: on a stale view it conflicts and the pass starts
// again from a live read. The admission policy of config/admission adds it
// at creation; a saga without it says the policy is missing, which is
// logged once per process.
func (r *OrderSagaReconciler) ensureFinalizer(ctx context.Context, req EnsureFinalizer) (FinalizerEnsured, error) {
	obj := req.Saga
	if !obj.DeletionTimestamp.IsZero() || retired(obj) || controllerutil.ContainsFinalizer(obj, ordersv1alpha1.Finalizer) {
		return FinalizerEnsured{}, nil
	}
	base := obj.DeepCopy()
	controllerutil.AddFinalizer(obj, ordersv1alpha1.Finalizer)
	if err := r.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return FinalizerEnsured{}, staleView(fmt.Errorf("add finalizer: %w", err))
	}
	missingPolicyLogged.Do(func() {
		ctrl.LoggerFrom(ctx).Info("Finalizer added by the operator: the admission policy that adds it at creation seems not installed")
	})
	return FinalizerEnsured{Added: true}, nil
}

// missingPolicyLogged makes the missing admission policy a single log line.
var missingPolicyLogged sync.Once

// finalizeSaga removes the finalizer of a deleted saga that has nothing left
// to undo. A saga that failed compensation is released too: deleting it is a
// person's decision to stop.
func (r *OrderSagaReconciler) finalizeSaga(ctx context.Context, req FinalizeSaga) (SagaFinalized, error) {
	obj := req.Saga
	if obj.DeletionTimestamp.IsZero() || !obj.Status.Phase.IsFinal() ||
		!controllerutil.ContainsFinalizer(obj, ordersv1alpha1.Finalizer) {
		return SagaFinalized{}, nil
	}
	base := obj.DeepCopy()
	controllerutil.RemoveFinalizer(obj, ordersv1alpha1.Finalizer)
	if err := r.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return SagaFinalized{}, client.IgnoreNotFound(staleView(fmt.Errorf("remove finalizer: %w", err)))
	}
	r.published.forget(client.ObjectKeyFromObject(obj))
	r.events.forget(client.ObjectKeyFromObject(obj))
	ctrl.LoggerFrom(ctx).Info("Finalizer removed", "phase", obj.Status.Phase)
	return SagaFinalized{Released: true}, nil
}

// forget handles a saga that is gone: its pending replies can never be
// applied. The cache may lag behind a creation, so absence is confirmed with
// a live read (readLive, the same freshness point as a pass's) before
// anything is dead-lettered.
func (r *OrderSagaReconciler) forget(ctx context.Context, key types.NamespacedName) (ctrl.Result, error) {
	r.published.forget(key)
	r.events.forget(key)
	items := r.Inbox.Peek(key)
	if len(items) == 0 {
		return ctrl.Result{}, nil
	}
	obj, err := readLive(ctx, r.APIReader, key)
	switch {
	case err == nil && retired(obj):
		// Out of the cache for good: its late replies are settled against
		// the live saga, by the same pass as anyone's.
		s := newScope(obj, items, r.Clock.Now())
		s.live = true
		return r.runPass(ctx, s)
	case err == nil:
		return ctrl.Result{RequeueAfter: cacheLagRequeueDelay}, nil // the cache has not seen it yet
	case !errors.Is(err, errSagaGone):
		return ctrl.Result{}, err
	}
	settled := 0
	for _, it := range items {
		if it.Delivery != nil {
			r.deadLetter(ctx, it, DeadLetterUnknownSaga, fmt.Sprintf("no OrderSaga %s", key))
			settled++
		}
	}
	r.Inbox.Remove(key, items)
	ctrl.LoggerFrom(ctx).V(1).Info("Inbox of a gone saga released", "items", len(items), "deadLettered", settled)
	return ctrl.Result{}, nil
}

// cacheLagRequeueDelay is the wait before looking again at a saga the cache
// does not show yet but the apiserver has.
const cacheLagRequeueDelay = 100 * time.Millisecond
