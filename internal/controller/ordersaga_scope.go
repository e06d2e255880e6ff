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
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

var (
	// errStaleView means the pass acted on a view of the saga that may be
	// older than the apiserver's (a status write conflicted, a reply
	// matches nothing the cached status sent, a message is due that this
	// process has not sent). Nothing of the pass took effect that a fresh
	// pass would not redo: Reconcile refreshes the scope and runs again.
	errStaleView = errors.New("view of the saga may be stale")
	// errSagaGone means the saga no longer exists, or is being deleted
	// without this operator's finalizer: nothing of it is left to run.
	errSagaGone = errors.New("saga is gone")
)

// scope is the state of one reconcile pass, handed from step to step.
// Fields say which step sets them.
type scope struct {
	key types.NamespacedName
	// now is the pass's clock reading; every decision of the pass uses it.
	now time.Time
	// base is the saga as read, the reference of the status patch; saga is
	// the working copy whose status the steps change. Only newScope and
	// refresh set them; ensureFinalizer moves base to the patched object.
	base, saga *ordersv1alpha1.OrderSaga
	// live says base was read from the apiserver, not the cache.
	live bool
	// persisted says persistStatus wrote the status: the write carried the
	// resourceVersion read, so the pass's view is the latest.
	persisted bool
	// items are the saga's inbox items at the start of the pass; settled
	// items are dropped (settleReplies), so a pass run again after a
	// refresh never acknowledges a delivery twice.
	items []*InboxItem
}

func newScope(obj *ordersv1alpha1.OrderSaga, items []*InboxItem, now time.Time) *scope {
	return &scope{
		key:   types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name},
		now:   now,
		base:  obj,
		saga:  obj.DeepCopy(),
		items: items,
	}
}

// fresh says the pass's view of the saga is known to be the latest.
func (s *scope) fresh() bool { return s.live || s.persisted }

// refresh is the pass's one freshness point: it replaces the view with a
// live read of the saga, keeping the clock reading and the items not yet
// settled. It returns errSagaGone when there is nothing left to run.
func (s *scope) refresh(ctx context.Context, reader client.Reader) error {
	ctrl.LoggerFrom(ctx).V(1).Info("Reading saga live")
	obj, err := readLive(ctx, reader, s.key)
	if err != nil {
		return err
	}
	*s = scope{key: s.key, now: s.now, base: obj, saga: obj.DeepCopy(), live: true, items: s.items}
	return nil
}

// readLive reads the saga from the apiserver, bypassing the cache. It
// returns errSagaGone when there is nothing left to run.
func readLive(ctx context.Context, reader client.Reader, key types.NamespacedName) (*ordersv1alpha1.OrderSaga, error) {
	obj := &ordersv1alpha1.OrderSaga{}
	if err := reader.Get(ctx, key, obj); err != nil {
		return nil, classifyRead(err, "read saga live")
	}
	if gone(obj) {
		return nil, errSagaGone
	}
	return obj, nil
}

// classifyRead turns a not-found into errSagaGone and wraps other errors.
func classifyRead(err error, what string) error {
	if apierrors.IsNotFound(err) {
		return errSagaGone
	}
	return fmt.Errorf("%s: %w", what, err)
}

// gone says a saga is being deleted without this operator's finalizer:
// someone else holds it, or it was released already.
func gone(obj *ordersv1alpha1.OrderSaga) bool {
	return !obj.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(obj, ordersv1alpha1.Finalizer)
}

// staleView marks err, a write refused because the view was stale
// (409 Conflict), as errStaleView; other errors pass unchanged.
func staleView(err error) error {
	if apierrors.IsConflict(err) {
		return fmt.Errorf("%w: %w", errStaleView, err)
	}
	return err
}
