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

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/mediator"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
)

// CommandPublisher is what the reconciler needs of the broker.
type CommandPublisher interface {
	Publish(ctx context.Context, exchange, routingKey string, msg amqpconn.Message) error
	// UnavailableSince says since when no command can leave (the connection
	// is down or the broker blocks it); zero while commands can.
	UnavailableSince() time.Time
}

// OrderSagaReconciler drives OrderSagas. Every field is required unless it
// says otherwise: defaults live in the operator's Options, not here.
type OrderSagaReconciler struct {
	// Client reads from the cache and writes to the apiserver.
	client.Client
	// APIReader reads from the apiserver, bypassing the cache: the pass's
	// one freshness point (scope.refresh) uses it.
	APIReader client.Reader
	// Recorder records the Events that make "kubectl describe" read as the
	// saga's history.
	Recorder    events.EventRecorder
	Publisher   CommandPublisher
	DeadLetters DeadLetterer
	// CommandExchange and ReplyQueue name the broker topology commands go
	// to and replies come from.
	CommandExchange, ReplyQueue string
	// CommandUser is the broker user the operator connects as, stamped on
	// commands as user_id (RabbitMQ validates it), so that a participant
	// can tell the operator's commands from anyone else's.
	CommandUser string
	Inbox       *Inbox
	Machine     saga.Machine
	Clock       clock.PassiveClock
	// ReplyObserver counts dead-lettered replies.
	ReplyObserver ReplyObserver
	// MaxConcurrentReconciles bounds how many sagas are reconciled at once.
	MaxConcurrentReconciles int
	// Events says which transitions become Kubernetes Events.
	Events EventPolicy
	// BrokerRetryInterval is the wait before trying again when the broker
	// is unavailable.
	BrokerRetryInterval time.Duration
	// EventExchange is the topic exchange lifecycle events go to.
	EventExchange string
	// DefaultTTLSecondsAfterFinished is how long a finished saga is kept
	// when neither it nor its template says; nil keeps it.
	DefaultTTLSecondsAfterFinished *int32
	// RetentionSweepInterval is how often the RetentionSweeper looks for
	// expired sagas; a saga expiring sooner than that is deleted by its own
	// pass instead.
	RetentionSweepInterval time.Duration
	// Behaviours wrap every dispatch on the reconciler's bus (logging,
	// dispatch metrics); optional.
	Behaviours []mediator.Behaviour
	// Subscribers register further subscribers of the reconciler's
	// notifications (metrics; counters in tests); optional.
	Subscribers []func(*mediator.Builder)
	// StartNamespaces are the namespaces StartSaga creates sagas in; none
	// when empty (docs/events.md).
	StartNamespaces sets.Set[string]
	// Namespaces are the namespaces the operator owns, a shard's
	// (docs/scaling.md): its live lists (the retention sweep, queries by
	// order id) stay inside them, and it answers queries about them only.
	// Empty owns every namespace.
	Namespaces sets.Set[string]

	bus       *mediator.Mediator
	notify    notifiers
	getSaga   mediator.Sender[GetSaga, SagaState]
	retry     mediator.Sender[RequestRetry, RetryQueued]
	start     mediator.Sender[StartSaga, SagaStarted]
	published *publishedSet
	events    *eventLedger
}

// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=ordersagas,verbs=get;list;watch;patch;delete
// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=ordersagas/status,verbs=get;patch
// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=ordersagas/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=sagatemplates,verbs=get;list;watch

// Reconcile runs one pass over the saga (see runPass). A pass that finds
// its view of the saga stale starts once more from a live read, the pass's
// only restart point; a saga that is gone has its pending replies released.
func (r *OrderSagaReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	// Replies the pass leaves unsettled, however it ends, may be returned
	// to the broker (ReplyReturner); none is while it runs.
	endPass := r.Inbox.StartPass(req.NamespacedName)
	defer endPass()
	s, err := r.load(ctx, req.NamespacedName)
	if errors.Is(err, errSagaGone) {
		return r.forget(ctx, req.NamespacedName)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	res, err := r.runPass(ctx, s)
	if errors.Is(err, errStaleView) && !s.live {
		if err = s.refresh(ctx, r.APIReader); err == nil {
			res, err = r.runPass(ctx, s)
		}
	}
	switch {
	case errors.Is(err, errSagaGone):
		return r.forget(ctx, req.NamespacedName)
	case errors.Is(err, errStaleView):
		// Someone else wrote in between, even after a live read: look again
		// shortly, without an error in the logs.
		ctrl.LoggerFrom(ctx).V(1).Info("Saga changed during the pass; requeueing", "cause", err.Error())
		return ctrl.Result{RequeueAfter: staleRequeueDelay}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	return res, nil
}

// staleRequeueDelay is the wait before a pass whose view went stale twice is
// tried again: long enough for the cache to catch up with the other writer.
const staleRequeueDelay = 50 * time.Millisecond

// load reads the saga from the cache into a new scope, with the saga's
// pending inbox items. A saga that is gone, or deleted without this
// operator's finalizer, yields errSagaGone.
func (r *OrderSagaReconciler) load(ctx context.Context, key types.NamespacedName) (*scope, error) {
	obj := &ordersv1alpha1.OrderSaga{}
	if err := r.Get(ctx, key, obj); err != nil {
		return nil, classifyRead(err, "get saga")
	}
	if gone(obj) {
		return nil, errSagaGone
	}
	return newScope(obj, r.Inbox.Peek(key), r.Clock.Now()), nil
}

// SetupWithManager wires the reconciler's bus and registers the controller:
// it watches OrderSagas (spec, annotation and deletion changes, not its own
// status writes), the inbox, which wakes exactly the saga a reply is for, retry
// requests made with RetryAnnotation, and the broker coming back, which wakes
// every saga in progress.
func (r *OrderSagaReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := r.validate(); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &ordersv1alpha1.OrderSaga{}, orderIDField, indexOrderID); err != nil {
		return fmt.Errorf("index sagas by order id: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &ordersv1alpha1.OrderSaga{}, stepServiceField, indexStepServices); err != nil {
		return fmt.Errorf("index sagas by service: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &ordersv1alpha1.OrderSaga{}, templateField, indexTemplate); err != nil {
		return fmt.Errorf("index sagas by template: %w", err)
	}
	if err := r.buildBus(); err != nil {
		return err
	}
	watch := newBrokerWatch(r.Publisher, mgr.GetCache())
	if err := mgr.Add(watch); err != nil {
		return fmt.Errorf("add broker watch: %w", err)
	}
	sweeper := &RetentionSweeper{
		Reader: r.APIReader, Writer: r.Client, Clock: r.Clock, Interval: r.RetentionSweepInterval, Namespaces: sets.List(r.Namespaces),
	}
	if err := mgr.Add(sweeper); err != nil {
		return fmt.Errorf("add retention sweeper: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Not its own status writes; a person's annotation (and the bench's
		// touch) does wake it.
		For(&ordersv1alpha1.OrderSaga{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WatchesRawSource(source.Channel(r.Inbox.Events(), &handler.EnqueueRequestForObject{})).
		WatchesRawSource(source.Channel(watch.events, &handler.EnqueueRequestForObject{})).
		Watches(&ordersv1alpha1.Participant{}, handler.EnqueueRequestsFromMapFunc(r.sagasOfParticipant),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&ordersv1alpha1.SagaTemplate{}, handler.EnqueueRequestsFromMapFunc(r.sagasWaitingForTemplate)).
		WatchesRawSource(source.Kind(mgr.GetCache(), &ordersv1alpha1.OrderSaga{}, r.retryRequests())).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Named("ordersaga").
		Complete(r)
}

func (r *OrderSagaReconciler) validate() error {
	switch {
	case r.Client == nil || r.APIReader == nil || r.Recorder == nil || r.Clock == nil:
		return errors.New("ordersaga reconciler needs a Client, an APIReader, a Recorder and a Clock")
	case r.Publisher == nil || r.DeadLetters == nil || r.Inbox == nil || r.ReplyObserver == nil:
		return errors.New("ordersaga reconciler needs a Publisher, DeadLetters, an Inbox and a ReplyObserver")
	case r.CommandExchange == "" || r.ReplyQueue == "":
		return errors.New("ordersaga reconciler needs the command exchange and the reply queue")
	case !r.Events.Valid():
		return fmt.Errorf("unknown event policy %q", r.Events)
	case r.BrokerRetryInterval <= 0 || r.RetentionSweepInterval <= 0:
		return errors.New("ordersaga reconciler needs a broker retry interval and a retention sweep interval")
	case r.EventExchange == "":
		return errors.New("ordersaga reconciler needs the event exchange")
	}
	return nil
}

// buildBus registers the reconciler's requests and notifications on its
// bus and resolves their senders now, so that a wiring mistake fails at
// start-up.
func (r *OrderSagaReconciler) buildBus() error {
	b := mediator.NewBuilder()
	b.Use(r.Behaviours...)
	mediator.Handle(b, r.querySaga)
	mediator.Handle(b, r.requestRetry)
	mediator.Handle(b, r.startSaga)
	mediator.Handle(b, r.requestVerb)
	mediator.Subscribe(b, r.recordEvent)
	mediator.Subscribe(b, logTransition)
	mediator.Subscribe(b, r.publishLifecycleEvents)
	for _, subscribe := range r.Subscribers {
		subscribe(b)
	}
	bus, err := b.Build()
	if err != nil {
		return fmt.Errorf("build the reconciler's bus: %w", err)
	}
	r.bus = bus
	r.notify = newNotifiers(bus)
	r.published = newPublishedSet()
	r.events = newEventLedger()
	var errs [3]error
	r.getSaga, errs[0] = mediator.SenderFor[GetSaga, SagaState](bus)
	r.retry, errs[1] = mediator.SenderFor[RequestRetry, RetryQueued](bus)
	r.start, errs[2] = mediator.SenderFor[StartSaga, SagaStarted](bus)
	return errors.Join(errs[:]...)
}

// StartSaga sends the StartSaga command on the reconciler's bus: the start
// consumer's way in.
func (r *OrderSagaReconciler) StartSaga(ctx context.Context, cmd StartSaga) (SagaStarted, error) {
	return r.start(ctx, cmd)
}

// GetSaga sends the GetSaga query on the reconciler's bus: the query
// consumer's way in.
func (r *OrderSagaReconciler) GetSaga(ctx context.Context, q GetSaga) (SagaState, error) {
	return r.getSaga(ctx, q)
}

// Bus is the reconciler's bus, once SetupWithManager built it: the
// SagaRequest controller sends its RequestVerb commands on it.
func (r *OrderSagaReconciler) Bus() *mediator.Mediator { return r.bus }
