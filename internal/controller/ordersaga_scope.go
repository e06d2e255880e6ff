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
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

// scope is the state of one reconcile pass, handed from sub-step to
// sub-step. Fields say which sub-step sets them.
type scope struct {
	key types.NamespacedName
	// now is the pass's clock reading; every decision of the pass uses it.
	now time.Time
	// base is the saga as read, the reference of the status patch; saga is
	// the working copy whose status the sub-steps change. ApplyReplies may
	// replace both with a live read.
	base, saga *ordersv1alpha1.OrderSaga
	// live says base was read from the apiserver, not the cache.
	live bool
	// persisted says PersistStatus wrote the status: the write carried the
	// resourceVersion read, so the pass's view is the latest.
	persisted bool
	// items are the saga's inbox items at the start of the pass.
	items []*InboxItem
	// verdicts says what ApplyReplies made of each item.
	verdicts map[*InboxItem]saga.Verdict
	// transitions are the changes AdvanceSaga and ApplyReplies decided;
	// PersistStatus tells them once the status that records them is written.
	transitions []saga.Transition
	// requeueAt is when the saga needs another pass if nothing else happens
	// (AdvanceSaga from the machine; DispatchCommands after a failed send).
	requeueAt time.Time
}

func newScope(obj *ordersv1alpha1.OrderSaga, items []*InboxItem, now time.Time, live bool) *scope {
	return &scope{
		key:      types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name},
		now:      now,
		base:     obj,
		saga:     obj.DeepCopy(),
		live:     live,
		items:    items,
		verdicts: map[*InboxItem]saga.Verdict{},
	}
}

// reset starts the pass again from a fresh read.
func (s *scope) reset(obj *ordersv1alpha1.OrderSaga, live bool) {
	*s = *newScope(obj, s.items, s.now, live)
}

// fresh says the pass's view of the saga is known to be the latest.
func (s *scope) fresh() bool { return s.live || s.persisted }

// requeueNoLaterThan moves the next pass earlier, never later.
func (s *scope) requeueNoLaterThan(t time.Time) {
	if !t.IsZero() && (s.requeueAt.IsZero() || t.Before(s.requeueAt)) {
		s.requeueAt = t
	}
}

func (s *scope) result() ctrl.Result {
	if s.requeueAt.IsZero() {
		return ctrl.Result{}
	}
	// A little late rather than early: a timeout checked a hair before it
	// expires would need one more pass.
	return ctrl.Result{RequeueAfter: max(s.requeueAt.Sub(s.now), 0) + 5*time.Millisecond}
}
