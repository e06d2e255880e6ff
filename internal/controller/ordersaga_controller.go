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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// OrderSagaReconciler drives OrderSagas.
type OrderSagaReconciler struct {
	client.Client
	// Recorder records the Events that make "kubectl describe" read as the
	// saga's history.
	Recorder events.EventRecorder
	// MaxConcurrentReconciles bounds how many sagas are reconciled at once.
	MaxConcurrentReconciles int
}

// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=ordersagas,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=ordersagas/status,verbs=get;patch
// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=ordersagas/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile loads the saga, makes sure it carries the finalizer, and then
// either releases a deleted saga or advances a live one.
func (r *OrderSagaReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	saga := &ordersv1alpha1.OrderSaga{}
	if err := r.Get(ctx, req.NamespacedName, saga); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !saga.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.reconcileDelete(ctx, saga)
	}
	if err := r.ensureFinalizer(ctx, saga); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.reconcileStatus(ctx, saga)
}

// ensureFinalizer adds the finalizer with a patch. The patch returns the new
// resourceVersion into saga, so the pass can go on and write status without
// waiting for the watch to deliver the change.
func (r *OrderSagaReconciler) ensureFinalizer(ctx context.Context, saga *ordersv1alpha1.OrderSaga) error {
	if controllerutil.ContainsFinalizer(saga, ordersv1alpha1.Finalizer) {
		return nil
	}
	base := saga.DeepCopy()
	controllerutil.AddFinalizer(saga, ordersv1alpha1.Finalizer)
	if err := r.Patch(ctx, saga, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("add finalizer: %w", err)
	}
	return nil
}

// reconcileStatus initialises the status of a new saga and writes it once.
func (r *OrderSagaReconciler) reconcileStatus(ctx context.Context, saga *ordersv1alpha1.OrderSaga) error {
	if saga.Status.Phase != "" {
		return nil
	}
	base := saga.DeepCopy()
	initializeStatus(saga)
	if err := r.Status().Patch(ctx, saga, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("initialise status: %w", err)
	}
	ctrl.LoggerFrom(ctx).Info("Saga accepted", "steps", len(saga.Spec.Steps))
	r.Recorder.Eventf(saga, nil, corev1.EventTypeNormal, "Accepted", "Initialize",
		"Saga for order %s accepted with %d steps", saga.Spec.Order.ID, len(saga.Spec.Steps))
	return nil
}

// reconcileDelete releases a deleted saga by removing the finalizer.
func (r *OrderSagaReconciler) reconcileDelete(ctx context.Context, saga *ordersv1alpha1.OrderSaga) error {
	if !controllerutil.ContainsFinalizer(saga, ordersv1alpha1.Finalizer) {
		return nil
	}
	base := saga.DeepCopy()
	controllerutil.RemoveFinalizer(saga, ordersv1alpha1.Finalizer)
	if err := r.Patch(ctx, saga, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("remove finalizer: %w", err))
	}
	ctrl.LoggerFrom(ctx).Info("Finalizer removed")
	return nil
}

// SetupWithManager registers the reconciler with the manager.
func (r *OrderSagaReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&ordersv1alpha1.OrderSaga{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Named("ordersaga").
		Complete(r)
}
