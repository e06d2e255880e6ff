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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// StartSaga is a command: create the saga a start message asks for
// (docs/events.md). It is idempotent: the saga's name is derived from the
// template and the order id, so a second StartSaga for the same order finds
// the saga the first created.
type StartSaga struct {
	Request protocol.StartRequest
}

// SagaStarted names the saga of a StartSaga. Created is false when it
// existed already (a redelivered or duplicated start message).
type SagaStarted struct {
	Key     types.NamespacedName
	UID     types.UID
	Created bool
}

// startSaga creates the saga. A request the operator must refuse for good
// yields a *protocol.RejectError with a protocol.Refuse* reason; any other
// error is transient (the apiserver is unavailable), and the same request
// may succeed later.
func (r *OrderSagaReconciler) startSaga(ctx context.Context, cmd StartSaga) (SagaStarted, error) {
	req := cmd.Request
	if !r.StartNamespaces.Has(req.Namespace) {
		return SagaStarted{}, refuse(protocol.RefuseNamespaceNotAccepted,
			"the operator does not start sagas from the bus in namespace %s", req.Namespace)
	}
	if err := r.checkTemplate(ctx, types.NamespacedName{Namespace: req.Namespace, Name: req.Template}); err != nil {
		return SagaStarted{}, err
	}
	obj := startedSaga(req)
	err := r.Create(ctx, obj)
	switch {
	case err == nil:
		return SagaStarted{Key: types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}, UID: obj.UID, Created: true}, nil
	case apierrors.IsAlreadyExists(err):
		return r.existingSaga(ctx, obj)
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return SagaStarted{}, refuse(protocol.RefuseInvalidOrder, "the apiserver refused the saga: %s", protocol.Truncate(err.Error(), 512))
	case apierrors.IsForbidden(err):
		return SagaStarted{}, refuse(protocol.RefuseNotPermitted, "the apiserver refused the operator: %s", protocol.Truncate(err.Error(), 512))
	default:
		return SagaStarted{}, fmt.Errorf("create saga %s/%s: %w", obj.Namespace, obj.Name, err)
	}
}

// checkTemplate refuses a start from a template that does not exist. The
// cache answers; a template it does not hold yet (created a moment ago) is
// looked up live before the start is refused.
func (r *OrderSagaReconciler) checkTemplate(ctx context.Context, key types.NamespacedName) error {
	err := r.Get(ctx, key, &ordersv1alpha1.SagaTemplate{})
	if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, key, &ordersv1alpha1.SagaTemplate{})
	}
	switch {
	case apierrors.IsNotFound(err):
		return refuse(protocol.RefuseUnknownTemplate, "no SagaTemplate %s in namespace %s", key.Name, key.Namespace)
	case err != nil:
		return fmt.Errorf("get saga template %s: %w", key, err)
	}
	return nil
}

// existingSaga answers a start whose saga exists: the same saga if it runs
// the same order from the same template, else a refusal (two orders whose
// names collide, which the name's hash makes negligible). It reads live:
// the saga may have been created a moment ago, by the delivery before.
func (r *OrderSagaReconciler) existingSaga(ctx context.Context, want *ordersv1alpha1.OrderSaga) (SagaStarted, error) {
	key := types.NamespacedName{Namespace: want.Namespace, Name: want.Name}
	got := &ordersv1alpha1.OrderSaga{}
	if err := r.APIReader.Get(ctx, key, got); err != nil {
		// Deleted in between, or the apiserver failed: try again later.
		return SagaStarted{}, fmt.Errorf("get existing saga %s: %w", key, err)
	}
	if got.Spec.Order.ID != want.Spec.Order.ID || got.Spec.TemplateRef == nil || got.Spec.TemplateRef.Name != want.Spec.TemplateRef.Name {
		return SagaStarted{}, refuse(protocol.RefuseSagaNameTaken,
			"saga %s exists for another order or template", key)
	}
	return SagaStarted{Key: key, UID: got.UID}, nil
}

// startedSaga is the OrderSaga a start request asks for.
func startedSaga(req protocol.StartRequest) *ordersv1alpha1.OrderSaga {
	o := req.Order
	items := make([]ordersv1alpha1.LineItem, len(o.Items))
	for i, it := range o.Items {
		items[i] = ordersv1alpha1.LineItem{SKU: it.SKU, Quantity: it.Quantity, UnitPrice: it.UnitPrice}
	}
	return &ordersv1alpha1.OrderSaga{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: req.Namespace,
			Name:      protocol.StartedSagaName(req.Template, o.ID),
			Labels:    map[string]string{ordersv1alpha1.StartedByLabel: ordersv1alpha1.StartedByBus},
		},
		Spec: ordersv1alpha1.OrderSagaSpec{
			TemplateRef: &ordersv1alpha1.TemplateReference{Name: req.Template},
			Order: ordersv1alpha1.Order{
				ID:       o.ID,
				Customer: ordersv1alpha1.Customer{ID: o.Customer.ID},
				Items:    items,
				Total:    ordersv1alpha1.Money{Amount: o.Total.Amount, Currency: o.Total.Currency},
			},
			TTLSecondsAfterFinished: req.TTLSecondsAfterFinished,
		},
	}
}

func refuse(reason, format string, args ...any) error {
	return &protocol.RejectError{Reason: reason, Err: fmt.Errorf(format, args...)}
}
