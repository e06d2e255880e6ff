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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// GetSaga asks for the state of one saga, by Name or else by OrderID,
// within Namespace (every namespace when it is empty and OrderID is set).
// It is answered from the cache, which may lag the apiserver by the watch's
// delay; a saga the cache does not hold (a finished one, which leaves it) is
// looked up live.
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
	Conditions  []metav1.Condition
	// Template names the saga's SagaTemplate; TemplateGeneration is the
	// version it pinned, 0 until it has.
	Template           string
	TemplateGeneration int64
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
	// ErrNamespaceNotOwned answers a query about a namespace the operator's
	// shard does not own (OrderSagaReconciler.Namespaces).
	ErrNamespaceNotOwned = errors.New("namespace not owned by this operator's shard")
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

// querySaga answers GetSaga from the cache, else from a live read.
func (r *OrderSagaReconciler) querySaga(ctx context.Context, q GetSaga) (SagaState, error) {
	if q.Namespace != "" && r.Namespaces.Len() > 0 && !r.Namespaces.Has(q.Namespace) {
		return SagaState{}, fmt.Errorf("%w: %s", ErrNamespaceNotOwned, q.Namespace)
	}
	// The cache holds the owned namespaces only: a list of every
	// namespace stays inside them.
	state, err := findSaga(ctx, r.Client, q)
	if !errors.Is(err, ErrSagaNotFound) {
		return state, err
	}
	if q.Namespace != "" || r.Namespaces.Len() == 0 {
		return findSaga(ctx, r.APIReader, q)
	}
	return r.findSagaInOwnedNamespaces(ctx, q)
}

// findSagaInOwnedNamespaces answers a query by order id in every namespace
// live, one owned namespace at a time: a shard lists nothing outside them
// (and may not be allowed to).
func (r *OrderSagaReconciler) findSagaInOwnedNamespaces(ctx context.Context, q GetSaga) (SagaState, error) {
	var found []SagaState
	for _, ns := range sets.List(r.Namespaces) {
		in := q
		in.Namespace = ns
		state, err := findSaga(ctx, r.APIReader, in)
		switch {
		case errors.Is(err, ErrSagaNotFound):
			continue
		case err != nil:
			return SagaState{}, err
		}
		found = append(found, state)
	}
	switch len(found) {
	case 0:
		return SagaState{}, fmt.Errorf("%w: order %s in the shard's namespaces", ErrSagaNotFound, q.OrderID)
	case 1:
		return found[0], nil
	default:
		return SagaState{}, fmt.Errorf("%w: order %s has %d sagas in the shard's namespaces", ErrAmbiguousOrder, q.OrderID, len(found))
	}
}

// findSaga answers GetSaga from reader. Both the cache (an index) and the
// apiserver (the CRD's selectable field) select sagas on orderIDField.
func findSaga(ctx context.Context, reader client.Reader, q GetSaga) (SagaState, error) {
	if q.Name != "" {
		obj := &ordersv1alpha1.OrderSaga{}
		key := types.NamespacedName{Namespace: q.Namespace, Name: q.Name}
		if err := reader.Get(ctx, key, obj); err != nil {
			if client.IgnoreNotFound(err) == nil {
				return SagaState{}, fmt.Errorf("%w: %s", ErrSagaNotFound, key)
			}
			return SagaState{}, fmt.Errorf("get saga %s: %w", key, err)
		}
		return sagaState(obj), nil
	}
	list := &ordersv1alpha1.OrderSagaList{}
	if err := reader.List(ctx, list, client.InNamespace(q.Namespace), client.MatchingFields{orderIDField: q.OrderID}); err != nil {
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
	st := SagaState{
		Key:              client.ObjectKeyFromObject(obj),
		UID:              obj.UID,
		OrderID:          obj.Spec.Order.ID,
		Phase:            obj.Status.Phase,
		CurrentStep:      obj.Status.CurrentStep,
		Steps:            obj.Status.Steps,
		Conditions:       obj.Status.Conditions,
		RetryToken:       obj.Annotations[ordersv1alpha1.RetryAnnotation],
		LastHandledRetry: obj.Status.LastHandledRetry,
		HandledRequests:  obj.Status.HandledRequests,
	}
	if obj.Spec.TemplateRef != nil {
		st.Template = obj.Spec.TemplateRef.Name
	}
	if obj.Status.Template != nil {
		st.TemplateGeneration = obj.Status.Template.Generation
	}
	return st
}
