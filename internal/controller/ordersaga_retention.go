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
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/lifecycle"
)

// retireSaga lets a saga that is over for good (Completed or Compensated),
// whose lifecycle events are all published, leave the operator: one
// metadata patch sets FinishedLabel, which takes it out of the operator's
// cache, writes when it expires, and removes the finalizer, since nothing is
// left to undo. A saga whose time to live ends before the retention sweeper
// would next look stays in the cache until then and is deleted by its own
// pass. A Failed saga stays: it waits for a person.
func (r *OrderSagaReconciler) retireSaga(ctx context.Context, req RetireSaga) (SagaRetired, error) {
	s := req.Saga
	if !finishedForGood(s) || retired(s) || !s.DeletionTimestamp.IsZero() ||
		!lifecycle.Drained(&s.Status, r.events.through(s)) {
		return SagaRetired{}, nil
	}
	expires, expiring := r.expiry(s, req.Now)
	if expiring && expires.Before(req.Now.Add(r.RetentionSweepInterval)) {
		if expires.After(req.Now) {
			return SagaRetired{WakeAt: expires}, nil
		}
		// Deleting takes it out of the cache; the finalizer, if any, is
		// removed by the pass the deletion causes (finalizeSaga).
		if err := r.Delete(ctx, s, client.Preconditions{UID: &s.UID}); client.IgnoreNotFound(err) != nil {
			return SagaRetired{}, fmt.Errorf("delete expired saga: %w", err)
		}
		ctrl.LoggerFrom(ctx).Info("Finished saga deleted", "phase", s.Status.Phase, "expiredAt", expires)
		return SagaRetired{Deleted: true}, nil
	}
	base := s.DeepCopy()
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[ordersv1alpha1.FinishedLabel] = "true"
	if expiring {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[ordersv1alpha1.ExpiresAnnotation] = expires.UTC().Format(time.RFC3339)
	}
	controllerutil.RemoveFinalizer(s, ordersv1alpha1.Finalizer)
	if err := r.Patch(ctx, s, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return SagaRetired{}, client.IgnoreNotFound(staleView(fmt.Errorf("retire saga: %w", err)))
	}
	key := client.ObjectKeyFromObject(s)
	r.events.forget(key)
	r.published.forget(key)
	ctrl.LoggerFrom(ctx).V(1).Info("Finished saga retired from the cache", "phase", s.Status.Phase, "expires", expiring)
	return SagaRetired{Retired: true}, nil
}

// expiry says when a finished saga is to be deleted: ttlSecondsAfterFinished
// after it finished, from the saga, its template or the operator's default;
// expiring is false when it is kept.
func (r *OrderSagaReconciler) expiry(s *ordersv1alpha1.OrderSaga, now time.Time) (at time.Time, expiring bool) {
	ttl, ok := s.RunTTL(r.DefaultTTLSecondsAfterFinished)
	if !ok || ttl < 0 {
		return time.Time{}, false
	}
	finished := now
	if s.Status.CompletionTime != nil {
		finished = s.Status.CompletionTime.Time
	}
	return finished.Add(time.Duration(ttl) * time.Second), true
}

// finishedForGood says the saga will never act again: Completed or
// Compensated. A Failed saga may be retried.
func finishedForGood(s *ordersv1alpha1.OrderSaga) bool {
	return s.Status.Phase == ordersv1alpha1.PhaseCompleted || s.Status.Phase == ordersv1alpha1.PhaseCompensated
}

// retired says the saga carries FinishedLabel: it is out of the cache, and
// only a reply for it or a live re-read brings it into a pass.
func retired(s *ordersv1alpha1.OrderSaga) bool {
	return s.Labels[ordersv1alpha1.FinishedLabel] == "true"
}

// The retention step of a pass.
type (
	// RetireSaga takes a finished saga out of the operator (label) or
	// deletes it once its time to live has passed.
	RetireSaga struct {
		Saga *ordersv1alpha1.OrderSaga
		Now  time.Time
	}
	// SagaRetired says what was done, and when to look again for a saga
	// about to expire (zero: never).
	SagaRetired struct {
		Retired, Deleted bool
		WakeAt           time.Time
	}
)
