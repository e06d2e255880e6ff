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

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// GetSaga asks for the state of one saga, by Name or else by OrderID,
// within Namespace. It is answered from the cache: the answer may lag the
// apiserver by the watch's delay.
type GetSaga struct {
	Namespace string
	Name      string
	OrderID   string
}

// SagaState is a saga as the cache shows it.
type SagaState struct {
	Key     types.NamespacedName
	UID     types.UID
	OrderID string
	Phase   ordersv1alpha1.SagaPhase
	// CurrentStep is the step being executed or compensated.
	CurrentStep string
	Steps       []ordersv1alpha1.StepStatus
	// RetryToken is the RetryAnnotation's value; LastHandledRetry the one
	// acted upon.
	RetryToken, LastHandledRetry string
	// HandledRequests are the SagaRequests the saga handled last.
	HandledRequests []ordersv1alpha1.HandledRequest
}

var (
	// ErrSagaNotFound answers a query for a saga that does not exist.
	ErrSagaNotFound = errors.New("no such saga")
	// ErrAmbiguousOrder answers a query by order id that several sagas of
	// the namespace carry.
	ErrAmbiguousOrder = errors.New("several sagas carry the order id")
)

// orderIDField indexes the cache's sagas by spec.order.id.
const orderIDField = "spec.order.id"

func indexOrderID(obj client.Object) []string {
	s, ok := obj.(*ordersv1alpha1.OrderSaga)
	if !ok || s.Spec.Order.ID == "" {
		return nil
	}
	return []string{s.Spec.Order.ID}
}

// querySaga answers GetSaga from the cache.
func (r *OrderSagaReconciler) querySaga(ctx context.Context, q GetSaga) (SagaState, error) {
	if q.Name != "" {
		obj := &ordersv1alpha1.OrderSaga{}
		key := types.NamespacedName{Namespace: q.Namespace, Name: q.Name}
		if err := r.Get(ctx, key, obj); err != nil {
			if client.IgnoreNotFound(err) == nil {
				return SagaState{}, fmt.Errorf("%w: %s", ErrSagaNotFound, key)
			}
			return SagaState{}, fmt.Errorf("get saga %s: %w", key, err)
		}
		return sagaState(obj), nil
	}
	list := &ordersv1alpha1.OrderSagaList{}
	if err := r.List(ctx, list, client.InNamespace(q.Namespace), client.MatchingFields{orderIDField: q.OrderID}); err != nil {
		return SagaState{}, fmt.Errorf("list sagas of order %s: %w", q.OrderID, err)
	}
	switch len(list.Items) {
	case 0:
		return SagaState{}, fmt.Errorf("%w: order %s in namespace %s", ErrSagaNotFound, q.OrderID, q.Namespace)
	case 1:
		return sagaState(&list.Items[0]), nil
	default:
		return SagaState{}, fmt.Errorf("%w: order %s in namespace %s has %d", ErrAmbiguousOrder, q.OrderID, q.Namespace, len(list.Items))
	}
}

func sagaState(obj *ordersv1alpha1.OrderSaga) SagaState {
	return SagaState{
		Key:              client.ObjectKeyFromObject(obj),
		UID:              obj.UID,
		OrderID:          obj.Spec.Order.ID,
		Phase:            obj.Status.Phase,
		CurrentStep:      obj.Status.CurrentStep,
		Steps:            obj.Status.Steps,
		RetryToken:       obj.Annotations[ordersv1alpha1.RetryAnnotation],
		LastHandledRetry: obj.Status.LastHandledRetry,
		HandledRequests:  obj.Status.HandledRequests,
	}
}
