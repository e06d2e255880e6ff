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

// Package controller holds the OrderSaga reconciler: it reads a saga, lets
// the saga state machine decide, writes the status once, and only then sends
// commands and acknowledges replies. See docs/architecture.md.
package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/internal/mediator"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// CommandPublisher is what the reconciler needs of the broker.
type CommandPublisher interface {
	Publish(ctx context.Context, exchange, routingKey string, msg amqpconn.Message) error
	Connected() bool
}

// Observer is told what the reconciler does, for metrics and tests.
type Observer interface {
	// StatusWritten is called after each status write.
	StatusWritten(obj *ordersv1alpha1.OrderSaga)
	// Transitioned is called for each transition, once its status is written.
	Transitioned(obj *ordersv1alpha1.OrderSaga, t saga.Transition)
	// CommandPublished is called after each publish of a command or
	// compensation, with its error.
	CommandPublished(kind protocol.Kind, err error)
}

// Observers tells each of its observers.
type Observers []Observer

// StatusWritten implements Observer.
func (os Observers) StatusWritten(obj *ordersv1alpha1.OrderSaga) {
	for _, o := range os {
		o.StatusWritten(obj)
	}
}

// Transitioned implements Observer.
func (os Observers) Transitioned(obj *ordersv1alpha1.OrderSaga, t saga.Transition) {
	for _, o := range os {
		o.Transitioned(obj, t)
	}
}

// CommandPublished implements Observer.
func (os Observers) CommandPublished(kind protocol.Kind, err error) {
	for _, o := range os {
		o.CommandPublished(kind, err)
	}
}

// OrderSagaReconciler drives OrderSagas.
type OrderSagaReconciler struct {
	client.Client
	// APIReader reads from the apiserver, bypassing the cache, when the
	// cache may be behind (a reply to a command it has not seen).
	APIReader client.Reader
	// Recorder records the Events that make "kubectl describe" read as the
	// saga's history.
	Recorder    events.EventRecorder
	Publisher   CommandPublisher
	DeadLetters DeadLetterer
	Topology    broker.Topology
	Inbox       *Inbox
	Machine     saga.Machine
	Clock       clock.PassiveClock
	// ReplyObserver counts dead-lettered replies; optional.
	ReplyObserver ReplyObserver
	// Observer is told about status writes and transitions; optional.
	Observer Observer
	// MaxConcurrentReconciles bounds how many sagas are reconciled at once.
	MaxConcurrentReconciles int
	// Events says which transitions become Kubernetes Events; default
	// EventsOutcomes.
	Events EventPolicy
	// BrokerRetryInterval is the wait before trying again when the broker
	// is unavailable; default 1s.
	BrokerRetryInterval time.Duration
	// Registerer receives the mediator's metrics; default controller-runtime's registry.
	Registerer prometheus.Registerer

	published        *publishedSet
	pipeline         []func(context.Context, *scope) error
	notifyTransition mediator.Publisher[SagaTransitioned]
}

// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=ordersagas,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=ordersagas/status,verbs=get;patch
// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=ordersagas/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile loads the saga, makes sure it carries the finalizer, and runs
// one pass of sub-steps through the mediator. A pass whose status write
// conflicts starts once more from a live read.
func (r *OrderSagaReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &ordersv1alpha1.OrderSaga{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return r.forget(ctx, req.NamespacedName)
		}
		return ctrl.Result{}, fmt.Errorf("get saga: %w", err)
	}
	if obj.DeletionTimestamp.IsZero() {
		if err := r.ensureFinalizer(ctx, obj); apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil // the cache was behind; look again
		} else if err != nil {
			return ctrl.Result{}, err
		}
	} else if !controllerutil.ContainsFinalizer(obj, ordersv1alpha1.Finalizer) {
		return r.forget(ctx, req.NamespacedName)
	}

	s := newScope(obj, r.Inbox.Peek(req.NamespacedName), r.Clock.Now(), false)
	err := r.runPass(ctx, s)
	if apierrors.IsConflict(err) {
		live := &ordersv1alpha1.OrderSaga{}
		if err := r.APIReader.Get(ctx, req.NamespacedName, live); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(fmt.Errorf("read saga live: %w", err))
		}
		s.reset(live, true)
		err = r.runPass(ctx, s)
	}
	if apierrors.IsConflict(err) {
		// Someone else wrote in between, twice: look again shortly.
		ctrl.LoggerFrom(ctx).V(1).Info("Status write conflicted; requeueing")
		return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	return s.result(), nil
}

func (r *OrderSagaReconciler) runPass(ctx context.Context, s *scope) error {
	for _, step := range r.pipeline {
		if err := step(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// ensureFinalizer adds the finalizer with a patch. The patch returns the new
// resourceVersion into obj, so the pass can go on and write status without
// waiting for the watch to deliver the change.
func (r *OrderSagaReconciler) ensureFinalizer(ctx context.Context, obj *ordersv1alpha1.OrderSaga) error {
	if controllerutil.ContainsFinalizer(obj, ordersv1alpha1.Finalizer) {
		return nil
	}
	base := obj.DeepCopy()
	controllerutil.AddFinalizer(obj, ordersv1alpha1.Finalizer)
	if err := r.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("add finalizer: %w", err)
	}
	return nil
}

// SetupWithManager wires the mediator and registers the controller: it
// watches OrderSagas (spec, annotation and deletion changes, not its own
// status writes) and the inbox, which wakes exactly the saga a reply is for.
func (r *OrderSagaReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := r.defaults(mgr); err != nil {
		return err
	}
	if err := r.buildPipeline(); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&ordersv1alpha1.OrderSaga{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WatchesRawSource(source.Channel(r.Inbox.Events(), &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Named("ordersaga").
		Complete(r)
}

func (r *OrderSagaReconciler) defaults(mgr ctrl.Manager) error {
	if r.Publisher == nil || r.DeadLetters == nil || r.Inbox == nil {
		return errors.New("ordersaga reconciler needs a Publisher, DeadLetters and an Inbox")
	}
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("ordersaga-controller")
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.ReplyObserver == nil {
		r.ReplyObserver = nopReplyObserver{}
	}
	if r.Observer == nil {
		r.Observer = Observers{}
	}
	if r.Registerer == nil {
		r.Registerer = metrics.Registry
	}
	r.published = newPublishedSet()
	return nil
}

// buildPipeline registers the sub-steps with the mediator and resolves their
// senders now, so that a missing handler fails at start-up.
func (r *OrderSagaReconciler) buildPipeline() error {
	b := mediator.NewBuilder()
	behaviours, err := mediator.Standard(r.Registerer)
	if err != nil {
		return fmt.Errorf("mediator behaviours: %w", err)
	}
	b.Use(behaviours...)
	mediator.Handle(b, r.applyReplies)
	mediator.Handle(b, r.advanceSaga)
	mediator.Handle(b, r.persistStatus)
	mediator.Handle(b, r.settleReplies)
	mediator.Handle(b, r.dispatchCommands)
	mediator.Handle(b, r.finalizeSaga)
	mediator.Subscribe(b, r.recordEvent)
	mediator.Subscribe(b, logTransition)
	mediator.Subscribe(b, func(_ context.Context, n SagaTransitioned) error {
		r.Observer.Transitioned(n.Saga, n.Transition)
		return nil
	})
	m, err := b.Build()
	if err != nil {
		return fmt.Errorf("build mediator: %w", err)
	}
	var errs []error
	step := func(f func(context.Context, *scope) error, err error) {
		errs = append(errs, err)
		r.pipeline = append(r.pipeline, f)
	}
	step(sub(m, func(s *scope) ApplyReplies { return ApplyReplies{s} }))
	step(sub(m, func(s *scope) AdvanceSaga { return AdvanceSaga{s} }))
	step(sub(m, func(s *scope) PersistStatus { return PersistStatus{s} }))
	step(sub(m, func(s *scope) SettleReplies { return SettleReplies{s} }))
	step(sub(m, func(s *scope) DispatchCommands { return DispatchCommands{s} }))
	step(sub(m, func(s *scope) FinalizeSaga { return FinalizeSaga{s} }))
	r.notifyTransition = mediator.PublisherFor[SagaTransitioned](m)
	return errors.Join(errs...)
}

// sub resolves the sender of one sub-step and adapts it to the pipeline.
func sub[Req any](m *mediator.Mediator, wrap func(*scope) Req) (func(context.Context, *scope) error, error) {
	send, err := mediator.SenderFor[Req, Done](m)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, s *scope) error {
		_, err := send(ctx, wrap(s))
		return err
	}, nil
}
