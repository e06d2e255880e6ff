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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/mediator"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

// SagaRequestReconciler hands each SagaRequest to its saga, once, as a
// RequestVerb command on the OrderSaga reconciler's bus, and copies the
// outcome the saga recorded (status.handledRequests) to the request's
// status: the saga's status is always written first, so a request reads
// Done or Refused only once its saga says so.
type SagaRequestReconciler struct {
	// Client reads SagaRequests from the cache and writes their status.
	client.Client
	// APIReader reads sagas live: the cache may lag the saga's write that
	// woke the request, and holds no retired saga.
	APIReader client.Reader
	Clock     clock.PassiveClock
	// Bus is the OrderSaga reconciler's bus (OrderSagaReconciler.Bus), set
	// before SetupWithManager.
	Bus *mediator.Mediator

	send     mediator.Sender[RequestVerb, VerbQueued]
	wakeOnce sync.Once
	wake     chan event.GenericEvent
}

// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=sagarequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=sagarequests/status,verbs=get;patch

// Reconcile looks at one request: nothing to do once it is Done or
// Refused; otherwise it copies the outcome the saga recorded, or sends the
// request to the saga, whose pass wakes this request once it recorded it.
func (r *SagaRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	sr := &ordersv1alpha1.SagaRequest{}
	if err := r.Get(ctx, req.NamespacedName, sr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if handled(sr) {
		return ctrl.Result{}, nil
	}
	if sr.Spec.Requester == nil || sr.Spec.Requester.Username == "" {
		return ctrl.Result{}, r.finish(ctx, sr, "", ordersv1alpha1.RequestRefused,
			"No requester: the admission policies of config/admission, which stamp it, are not installed; a verb is applied only with who asked")
	}
	key := types.NamespacedName{Namespace: sr.Namespace, Name: sr.Spec.Saga}
	obj, err := readLive(ctx, r.APIReader, key)
	if errors.Is(err, errSagaGone) {
		return ctrl.Result{}, r.finish(ctx, sr, "", ordersv1alpha1.RequestRefused, fmt.Sprintf("No saga %s in namespace %s", key.Name, key.Namespace))
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if rec := saga.HandledRequest(&obj.Status, string(sr.UID)); rec != nil {
		return ctrl.Result{}, r.finish(ctx, sr, string(obj.UID), rec.Phase, rec.Message)
	}
	if forgotten(obj, sr) {
		return ctrl.Result{}, r.finish(ctx, sr, string(obj.UID), ordersv1alpha1.RequestRefused, fmt.Sprintf(
			"The saga handled %d requests since this one was created and no longer tells whether it applied it: see its history",
			ordersv1alpha1.MaxHandledRequests))
	}
	if _, err := r.send(ctx, RequestVerb{Saga: key, Request: verbOf(sr)}); err != nil {
		return ctrl.Result{}, fmt.Errorf("send %s request to saga %s: %w", sr.Spec.Verb, key, err)
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Request sent to the saga", "verb", sr.Spec.Verb, "saga", key)
	return ctrl.Result{}, nil
}

func handled(sr *ordersv1alpha1.SagaRequest) bool {
	return sr.Status.Phase == ordersv1alpha1.RequestDone || sr.Status.Phase == ordersv1alpha1.RequestRefused
}

// forgotten says the saga's bounded record of handled requests may have
// dropped this one: it is full, and its oldest entry is newer than the
// request. Sending it again could apply it twice.
func forgotten(obj *ordersv1alpha1.OrderSaga, sr *ordersv1alpha1.SagaRequest) bool {
	h := obj.Status.HandledRequests
	return len(h) >= ordersv1alpha1.MaxHandledRequests && sr.CreationTimestamp.Time.Before(h[0].Time.Time)
}

// verbOf is the machine's event for a request.
func verbOf(sr *ordersv1alpha1.SagaRequest) saga.VerbRequested {
	return saga.VerbRequested{
		UID: string(sr.UID), Name: sr.Name, Verb: sr.Spec.Verb, Step: sr.Spec.Step,
		Requester: sr.Spec.Requester.Username, Reason: sr.Spec.Reason,
	}
}

// finish writes the request's outcome.
func (r *SagaRequestReconciler) finish(ctx context.Context, sr *ordersv1alpha1.SagaRequest, sagaUID string,
	phase ordersv1alpha1.SagaRequestPhase, message string) error {
	base := sr.DeepCopy()
	sr.Status = ordersv1alpha1.SagaRequestStatus{
		Phase: phase, Message: truncateNote(message, ordersv1alpha1.MaxMessageLength),
		HandledAt: &metav1.Time{Time: r.Clock.Now()}, SagaUID: sagaUID,
	}
	if err := r.Status().Patch(ctx, sr, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("write the request's outcome: %w", client.IgnoreNotFound(err))
	}
	ctrl.LoggerFrom(ctx).Info("Saga request handled", "verb", sr.Spec.Verb, "saga", sr.Spec.Saga, "phase", phase)
	return nil
}

// Subscribe registers, on the OrderSaga reconciler's bus (through its
// Subscribers), the subscriber that wakes a request once the saga's status
// that records it is written. Call it before that bus is built.
func (r *SagaRequestReconciler) Subscribe(b *mediator.Builder) {
	mediator.Subscribe(b, r.requestHandled)
}

// requestHandled wakes the request a transition names. The channel is
// drained by the controller; it blocks while 1024 wake-ups are pending.
func (r *SagaRequestReconciler) requestHandled(_ context.Context, n SagaTransitioned) error {
	if n.Transition.Request == "" {
		return nil
	}
	obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: n.Saga.Namespace, Name: n.Transition.Request}}
	r.wakes() <- event.GenericEvent{Object: obj}
	return nil
}

func (r *SagaRequestReconciler) wakes() chan event.GenericEvent {
	r.wakeOnce.Do(func() { r.wake = make(chan event.GenericEvent, 1024) })
	return r.wake
}

// SetupWithManager registers the controller: it watches SagaRequests
// (creation; the spec is immutable and its own status writes do not wake
// it) and the wake-ups of the sagas' passes.
func (r *SagaRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.APIReader == nil || r.Clock == nil || r.Bus == nil {
		return errors.New("saga request reconciler needs a Client, an APIReader, a Clock and the saga reconciler's Bus")
	}
	send, err := mediator.SenderFor[RequestVerb, VerbQueued](r.Bus)
	if err != nil {
		return fmt.Errorf("resolve the RequestVerb command: %w", err)
	}
	r.send = send
	return ctrl.NewControllerManagedBy(mgr).
		For(&ordersv1alpha1.SagaRequest{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(r.wakes(), &handler.EnqueueRequestForObject{})).
		Named("sagarequest").
		Complete(r)
}
