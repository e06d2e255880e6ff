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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

// resolveTemplate pins, once, the SagaTemplate a saga names: its steps,
// deadline and retention as they are now, and its generation, go to
// status.template, in the status write that starts the saga. A template that
// does not exist (yet: a GitOps tool may apply it after the saga) leaves the
// saga Pending with Blocked=TemplateNotFound; the template's creation wakes
// it.
func (r *OrderSagaReconciler) resolveTemplate(ctx context.Context, req ResolveTemplate) (TemplateResolved, error) {
	obj := req.Saga
	if obj.Spec.TemplateRef == nil || obj.Status.Template != nil {
		return TemplateResolved{Ready: true}, nil
	}
	tpl := &ordersv1alpha1.SagaTemplate{}
	key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Spec.TemplateRef.Name}
	if err := r.Get(ctx, key, tpl); apierrors.IsNotFound(err) {
		saga.Initialize(obj)
		meta.SetStatusCondition(&obj.Status.Conditions, metav1.Condition{
			Type: ordersv1alpha1.ConditionBlocked, Status: metav1.ConditionTrue, Reason: ordersv1alpha1.ReasonTemplateNotFound,
			Message:            fmt.Sprintf("No SagaTemplate %s in namespace %s: the saga starts once it exists", key.Name, key.Namespace),
			ObservedGeneration: obj.Generation,
		})
		return TemplateResolved{}, nil
	} else if err != nil {
		return TemplateResolved{}, fmt.Errorf("get saga template %s: %w", key, err)
	}
	obj.Status.Template = &ordersv1alpha1.PinnedTemplate{
		Name:                    tpl.Name,
		Generation:              tpl.Generation,
		Steps:                   tpl.Spec.Steps,
		Deadline:                tpl.Spec.Deadline,
		TTLSecondsAfterFinished: tpl.Spec.TTLSecondsAfterFinished,
	}
	meta.RemoveStatusCondition(&obj.Status.Conditions, ordersv1alpha1.ConditionBlocked)
	return TemplateResolved{Ready: true, Pinned: true}, nil
}

// templateField indexes the cache's sagas by the template they name.
const templateField = "spec.templateRef.name"

func indexTemplate(obj client.Object) []string {
	s, ok := obj.(*ordersv1alpha1.OrderSaga)
	if !ok || s.Spec.TemplateRef == nil {
		return nil
	}
	return []string{s.Spec.TemplateRef.Name}
}

// sagasWaitingForTemplate maps a SagaTemplate's creation to the sagas of its
// namespace that name it and have not pinned a template yet.
func (r *OrderSagaReconciler) sagasWaitingForTemplate(ctx context.Context, tpl client.Object) []reconcile.Request {
	list := &ordersv1alpha1.OrderSagaList{}
	if err := r.List(ctx, list, client.InNamespace(tpl.GetNamespace()), client.MatchingFields{templateField: tpl.GetName()},
		client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if list.Items[i].Status.Template == nil {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}
