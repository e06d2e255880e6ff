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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

// lookupParticipants reads, from the cache, the Participant of every service
// the saga's steps name, and whether each admits the saga's namespace: the
// registry the machine decides with in this pass.
func (r *OrderSagaReconciler) lookupParticipants(ctx context.Context, req LookupParticipants) (ParticipantsFound, error) {
	found := saga.Participants{}
	var nsLabels labels.Set
	for _, step := range req.Saga.RunSteps() {
		if _, seen := found[step.Service]; seen {
			continue
		}
		p := &ordersv1alpha1.Participant{}
		if err := r.Get(ctx, types.NamespacedName{Name: step.Service}, p); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return ParticipantsFound{}, fmt.Errorf("get participant %s: %w", step.Service, err)
		}
		if nsLabels == nil {
			ns := &corev1.Namespace{}
			if err := r.Get(ctx, types.NamespacedName{Name: req.Saga.Namespace}, ns); err != nil {
				return ParticipantsFound{}, fmt.Errorf("get namespace %s: %w", req.Saga.Namespace, err)
			}
			nsLabels = labels.Set(ns.Labels)
			if nsLabels == nil {
				nsLabels = labels.Set{}
			}
		}
		selector, err := metav1.LabelSelectorAsSelector(&p.Spec.NamespaceSelector)
		admitted := err == nil && selector.Matches(nsLabels) // a selector that does not parse admits nothing
		found[step.Service] = saga.Participant{Spec: p.Spec, Admitted: admitted}
	}
	return ParticipantsFound{Participants: found}, nil
}

// stepServiceField indexes the cache's sagas by the services their steps name.
const stepServiceField = "spec.steps.service"

func indexStepServices(obj client.Object) []string {
	s, ok := obj.(*ordersv1alpha1.OrderSaga)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(s.RunSteps()))
	for _, step := range s.RunSteps() {
		out = append(out, step.Service)
	}
	return out
}

// sagasOfParticipant maps a Participant's change (registered, changed,
// suspended, resumed, removed) to the sagas in progress that name it, so
// that a saga waiting for it goes on at once.
func (r *OrderSagaReconciler) sagasOfParticipant(ctx context.Context, p client.Object) []reconcile.Request {
	list := &ordersv1alpha1.OrderSagaList{}
	if err := r.List(ctx, list, client.MatchingFields{stepServiceField: p.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		return nil // the sagas' own timers and events still come
	}
	var out []reconcile.Request
	for i := range list.Items {
		s := &list.Items[i]
		if s.Status.Phase.IsFinal() && s.DeletionTimestamp.IsZero() {
			continue
		}
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(s)})
	}
	return out
}

// suspendedParticipant returns the suspended Participant of the saga's
// current step, or of another step in flight (parallel steps), if it has
// one: the saga's timers pause while it is.
func suspendedParticipant(obj *ordersv1alpha1.OrderSaga, registry saga.Participants) (string, bool) {
	for i, step := range obj.RunSteps() {
		current := step.Name == obj.Status.CurrentStep
		if !current && (i >= len(obj.Status.Steps) || !inFlight(obj.Status.Steps[i].State)) {
			continue
		}
		if p, ok := registry[step.Service]; ok && p.Spec.Suspend {
			return step.Service, true
		}
	}
	return "", false
}

// inFlight says a step in this state has a command or compensation under way.
func inFlight(state ordersv1alpha1.StepState) bool {
	return state == ordersv1alpha1.StepRunning || state == ordersv1alpha1.StepCompensating
}
