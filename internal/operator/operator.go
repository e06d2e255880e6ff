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

// Package operator wires the operator's parts into a controller-runtime
// manager: the broker connection, the reply consumer, the inbox and the
// OrderSaga reconciler. cmd/ and the integration suites share it, so the
// tests exercise the real wiring.
package operator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/internal/controller"
	"github.com/ordersaga/ordersaga-operator/internal/mediator"
	"github.com/ordersaga/ordersaga-operator/internal/metrics"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Options configure the operator. DefaultOptions gives the default of
// every field that has one: this is its one home, and cmd/'s flags show it.
type Options struct {
	// BrokerURL is the AMQP URL, credentials included.
	BrokerURL string
	// BrokerTLS configures amqps; nil uses the system roots.
	BrokerTLS *tls.Config
	// TopologyPrefix starts the name of every exchange and queue.
	TopologyPrefix string
	// Prefetch bounds the replies taken and not yet acknowledged.
	Prefetch int
	// ReplyDeliveryLimit is how often a reply is delivered before the
	// broker dead-letters it as poison.
	ReplyDeliveryLimit int
	// ReplySettleTimeout is how long a reply whose saga's passes keep
	// failing stays unsettled before it is returned to the broker, which
	// counts a delivery (controller.ReplyReturner). /readyz fails once a
	// reply has been held twice as long.
	ReplySettleTimeout time.Duration
	// MaxConcurrentReconciles bounds how many sagas are reconciled at once.
	MaxConcurrentReconciles int
	// Events says which transitions become Kubernetes Events.
	Events controller.EventPolicy
	// BrokerRetryInterval is the wait before retrying when the broker is
	// unavailable.
	BrokerRetryInterval time.Duration
	// MinReconnectDelay and MaxReconnectDelay bound the broker reconnection
	// backoff.
	MinReconnectDelay, MaxReconnectDelay time.Duration
	// SagaTTL is how long a finished saga (Completed or Compensated) is
	// kept when neither it nor its template sets ttlSecondsAfterFinished;
	// negative keeps it for ever.
	SagaTTL time.Duration
	// RetentionSweepInterval is how often finished sagas out of the cache
	// are looked at for deletion: a saga is deleted at most this long after
	// it expires.
	RetentionSweepInterval time.Duration
	// ParticipantCheckInterval is how often each Participant's queue and
	// bindings are checked (and restored) and its status refreshed.
	ParticipantCheckInterval time.Duration
	// StartNamespaces are the namespaces the operator starts sagas in from
	// start messages (docs/events.md). Empty, the default, turns bus starts
	// off: the start queue is neither declared nor consumed. With
	// Namespaces set they must be among them.
	StartNamespaces []string
	// Namespaces are the namespaces whose sagas, templates and requests the
	// operator owns: its cache watches only them and every list it makes
	// stays inside them. Empty, the default, owns every namespace. Set, it
	// needs a Shard (docs/scaling.md).
	Namespaces []string
	// Shard names this operator among several sharing a topology prefix,
	// each owning its Namespaces: it ends the names of its reply, start and
	// query queues (broker.Topology.Shard) and of its leader election lease
	// (LeaderElectionID). Empty, the default, keeps the unsharded names.
	Shard string
	// SkipParticipantController leaves the Participants' queues and status
	// to another shard's operator: Participants are cluster-scoped, and one
	// operator only must write them. The operator still reads them for
	// dispatch. False, the default, runs the participant controller.
	SkipParticipantController bool
	// AfterSagaStarted, when set, runs after a start message's saga exists
	// and before the reply; an error returns the message to the queue. The
	// suites crash the operator there.
	AfterSagaStarted func(context.Context, controller.SagaStarted) error
	// Registerer receives the operator's metrics; nil uses controller-runtime's.
	Registerer prometheus.Registerer
	// Subscribe, when set, registers further subscribers of the
	// reconciler's notifications: the test suites count with it.
	Subscribe func(*mediator.Builder)
	// WrapClient and WrapPublisher, when set, wrap the reconciler's
	// apiserver client and broker publisher: the fault-injection suite uses
	// them to fail writes, serve stale reads and count publishes.
	WrapClient    func(client.Client) client.Client
	WrapPublisher func(controller.CommandPublisher) controller.CommandPublisher
}

// DefaultOptions returns the options of a manager started without flags,
// but for the broker URL, which has no default: credentials do not belong
// in code.
func DefaultOptions() Options {
	return Options{
		TopologyPrefix:           protocol.DefaultTopologyPrefix,
		Prefetch:                 amqpconn.DefaultPrefetch,
		ReplyDeliveryLimit:       broker.DefaultReplyDeliveryLimit,
		ReplySettleTimeout:       30 * time.Second,
		MaxConcurrentReconciles:  4,
		Events:                   controller.DefaultEventPolicy,
		BrokerRetryInterval:      time.Second,
		ParticipantCheckInterval: 2 * time.Second,
		SagaTTL:                  7 * 24 * time.Hour,
		RetentionSweepInterval:   time.Minute,
		MinReconnectDelay:        amqpconn.DefaultMinReconnectDelay,
		MaxReconnectDelay:        amqpconn.DefaultMaxReconnectDelay,
		// Namespaces, Shard and SkipParticipantController stay zero: one
		// operator, unsharded, owns every namespace and the Participants.
	}
}

// withDefaults fills the fields left zero from DefaultOptions, so that a
// test sets only what it changes.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	set := func(field *int, def int) {
		if *field <= 0 {
			*field = def
		}
	}
	set(&o.Prefetch, d.Prefetch)
	set(&o.ReplyDeliveryLimit, d.ReplyDeliveryLimit)
	set(&o.MaxConcurrentReconciles, d.MaxConcurrentReconciles)
	setDuration := func(field *time.Duration, def time.Duration) {
		if *field <= 0 {
			*field = def
		}
	}
	setDuration(&o.BrokerRetryInterval, d.BrokerRetryInterval)
	setDuration(&o.ParticipantCheckInterval, d.ParticipantCheckInterval)
	setDuration(&o.ReplySettleTimeout, d.ReplySettleTimeout)
	setDuration(&o.RetentionSweepInterval, d.RetentionSweepInterval)
	if o.SagaTTL == 0 {
		o.SagaTTL = d.SagaTTL
	}
	setDuration(&o.MinReconnectDelay, d.MinReconnectDelay)
	setDuration(&o.MaxReconnectDelay, d.MaxReconnectDelay)
	if o.TopologyPrefix == "" {
		o.TopologyPrefix = d.TopologyPrefix
	}
	if o.Events == "" {
		o.Events = d.Events
	}
	if o.Registerer == nil {
		o.Registerer = ctrlmetrics.Registry
	}
	return o
}

// Operator is the wired operator, for tests that need to reach its parts.
type Operator struct {
	Broker     *broker.Broker
	Inbox      *controller.Inbox
	Reconciler *controller.OrderSagaReconciler
}

// Setup adds the operator to mgr.
func Setup(mgr ctrl.Manager, o Options) (*Operator, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	m, err := metrics.Default()
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	sagas, err := metrics.DefaultSagaCollector()
	if err != nil {
		return nil, fmt.Errorf("register saga metrics: %w", err)
	}
	sagas.SetReader(mgr.GetCache())

	topology := broker.Topology{
		Prefix: o.TopologyPrefix, ReplyDeliveryLimit: o.ReplyDeliveryLimit, Starts: len(o.StartNamespaces) > 0, Shard: o.Shard,
	}
	b := broker.New(amqpconn.Config{
		URL: o.BrokerURL, TLS: o.BrokerTLS, Topology: topology, Observer: m,
		MinReconnectDelay: o.MinReconnectDelay, MaxReconnectDelay: o.MaxReconnectDelay,
	}, ctrl.Log.WithName("broker"))
	if err := mgr.Add(b); err != nil {
		return nil, fmt.Errorf("add broker: %w", err)
	}
	if err := mgr.AddReadyzCheck("broker", b.Check); err != nil {
		return nil, fmt.Errorf("add broker readiness check: %w", err)
	}

	inbox := controller.NewInbox()
	if err := addReplyBound(mgr, inbox, o.ReplySettleTimeout, m); err != nil {
		return nil, err
	}
	deadLetters := deadLetterer{broker: b, exchange: topology.DeadLetterExchange()}
	router := &controller.ReplyRouter{Inbox: inbox, DeadLetters: deadLetters, Observer: m, Log: ctrl.Log.WithName("replies")}
	consumer := &amqpconn.Consumer{
		Conn: b.Conn, Queue: topology.ReplyQueue(), Tag: "ordersaga-operator", Prefetch: o.Prefetch,
		Handle: router.Handle, Log: ctrl.Log.WithName("replies"),
	}
	// The consumer needs leader election (a Runnable's default): only the
	// leader takes replies.
	if err := mgr.Add(consumer); err != nil {
		return nil, fmt.Errorf("add reply consumer: %w", err)
	}

	activity := controller.NewParticipantActivity()
	behaviours, err := mediator.Standard(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("mediator behaviours: %w", err)
	}
	requests := &controller.SagaRequestReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Clock: clock.RealClock{},
	}
	r := &controller.OrderSagaReconciler{
		Client:                         mgr.GetClient(),
		APIReader:                      mgr.GetAPIReader(),
		Recorder:                       mgr.GetEventRecorder("ordersaga-controller"),
		Publisher:                      b,
		DeadLetters:                    deadLetters,
		CommandExchange:                topology.CommandExchange(),
		ReplyQueue:                     topology.ReplyQueue(),
		CommandUser:                    amqpconn.URLUser(o.BrokerURL),
		Inbox:                          inbox,
		Clock:                          clock.RealClock{},
		ReplyObserver:                  m,
		MaxConcurrentReconciles:        o.MaxConcurrentReconciles,
		Events:                         o.Events,
		BrokerRetryInterval:            o.BrokerRetryInterval,
		EventExchange:                  topology.EventExchange(),
		DefaultTTLSecondsAfterFinished: ttlSeconds(o.SagaTTL),
		RetentionSweepInterval:         o.RetentionSweepInterval,
		StartNamespaces:                sets.New(o.StartNamespaces...),
		Namespaces:                     sets.New(o.Namespaces...),
		Behaviours:                     behaviours,
		Subscribers: []func(*mediator.Builder){metricsSubscribers(m), func(b *mediator.Builder) {
			mediator.Subscribe(b, activity.Observe)
		}, requests.Subscribe},
	}
	if o.Subscribe != nil {
		r.Subscribers = append(r.Subscribers, o.Subscribe)
	}
	if o.WrapClient != nil {
		r.Client = o.WrapClient(r.Client)
	}
	if o.WrapPublisher != nil {
		r.Publisher = o.WrapPublisher(b)
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up controller: %w", err)
	}
	if err := addBusConsumers(mgr, o, b, topology, r); err != nil {
		return nil, err
	}
	requests.Bus = r.Bus()
	if err := requests.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up saga request controller: %w", err)
	}
	// Participants are cluster-scoped: of several shards, one writes them.
	if !o.SkipParticipantController {
		participants := &controller.ParticipantReconciler{
			Client:        mgr.GetClient(),
			Queues:        participantQueues{broker: b, topology: topology},
			Activity:      activity,
			Recorder:      mgr.GetEventRecorder("ordersaga-participant-controller"),
			CheckInterval: o.ParticipantCheckInterval,
		}
		if err := participants.SetupWithManager(mgr); err != nil {
			return nil, fmt.Errorf("set up participant controller: %w", err)
		}
	}
	return &Operator{Broker: b, Inbox: inbox, Reconciler: r}, nil
}

// validate refuses options the operator cannot run with.
func (o Options) validate() error {
	if o.BrokerURL == "" {
		return errors.New("no broker URL: set --broker-url or --broker-url-file")
	}
	if !o.Events.Valid() {
		return fmt.Errorf("unknown event policy %q: warnings, outcomes, phases or all", o.Events)
	}
	if err := validateLabels("start namespace", o.StartNamespaces...); err != nil {
		return err
	}
	if err := o.validateShard(); err != nil {
		return err
	}
	if o.BrokerTLS != nil && !strings.HasPrefix(o.BrokerURL, "amqps://") {
		// TLS settings with a plaintext URL would silently connect in the
		// clear: refuse instead.
		return errors.New("broker TLS options are set but the broker URL is not amqps://")
	}
	return nil
}

// validateShard refuses a shard the operator could not run as: namespaces
// that are no namespace names, start namespaces it does not own, and a
// shard without a name (its queues would be the unsharded operator's, and
// shards would take one another's replies).
func (o Options) validateShard() error {
	if err := validateLabels("namespace", o.Namespaces...); err != nil {
		return err
	}
	if o.Shard != "" {
		if err := validateLabels("shard", o.Shard); err != nil {
			return err
		}
		if o.Shard == deadShard {
			return fmt.Errorf("shard %q: the name ends the unsharded reply dead-letter queue; pick another", o.Shard)
		}
	}
	if len(o.Namespaces) == 0 {
		return nil
	}
	if o.Shard == "" {
		return errors.New("--namespaces needs --shard: each shard takes replies from a reply queue of its own")
	}
	owned := sets.New(o.Namespaces...)
	if outside := sets.New(o.StartNamespaces...).Difference(owned); outside.Len() > 0 {
		return fmt.Errorf("start namespaces %s are not among the shard's namespaces %s",
			strings.Join(sets.List(outside), ","), strings.Join(sets.List(owned), ","))
	}
	return nil
}

// validateLabels refuses a name that is not a DNS label (a namespace's or a
// shard's, which ends queue and lease names), saying what it names.
func validateLabels(what string, names ...string) error {
	for _, name := range names {
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			return fmt.Errorf("%s %q: %s", what, name, strings.Join(errs, "; "))
		}
	}
	return nil
}

// deadShard is the one DNS label a shard may not take: "<prefix>.replies.dead"
// is the unsharded reply dead-letter queue.
const deadShard = "dead"

// defaultLeaderElectionID names the unsharded operator's leader election
// lease.
const defaultLeaderElectionID = "ordersaga-operator.ordersaga.io"

// LeaderElectionID names the operator's leader election lease: each shard
// elects its own leader, under "<shard>.ordersaga-operator.ordersaga.io".
func (o Options) LeaderElectionID() string {
	if o.Shard == "" {
		return defaultLeaderElectionID
	}
	return o.Shard + "." + defaultLeaderElectionID
}

// Bus requests (start messages and queries): a few at a time, each on its
// own worker, so that one held while the apiserver is unavailable does not
// hold up queries.
const (
	busPrefetch = 16
	busWorkers  = 4
	// startMaxRetryDelay and startHoldLimit bound the retries of a start
	// that fails transiently (controller.StartConsumer).
	startMaxRetryDelay = 30 * time.Second
	startHoldLimit     = 5 * time.Minute
)

// addBusConsumers adds the consumers of the query queue and, when bus
// starts are on, of the start queue. Like the reply consumer they run on the
// leader only.
func addBusConsumers(mgr ctrl.Manager, o Options, b *broker.Broker, topology broker.Topology, r *controller.OrderSagaReconciler) error {
	queries := &controller.QueryConsumer{
		Querier: r, Publisher: b, Log: ctrl.Log.WithName("queries"),
		DeadLetters: deadLetterer{broker: b, exchange: topology.QueryDeadLetterExchange()},
	}
	consumers := []*amqpconn.Consumer{{
		Conn: b.Conn, Queue: topology.QueryQueue(), Tag: "ordersaga-operator-queries", Prefetch: busPrefetch,
		Workers: busWorkers, Handle: queries.Handle, Log: ctrl.Log.WithName("queries"),
	}}
	if topology.Starts {
		starts := &controller.StartConsumer{
			Starter: r, Publisher: b, Log: ctrl.Log.WithName("starts"),
			DeadLetters: deadLetterer{broker: b, exchange: topology.StartDeadLetterExchange()},
			RetryDelay:  o.BrokerRetryInterval, MaxRetryDelay: startMaxRetryDelay, HoldLimit: startHoldLimit,
			AfterStart: o.AfterSagaStarted,
		}
		consumers = append(consumers, &amqpconn.Consumer{
			Conn: b.Conn, Queue: topology.StartQueue(), Tag: "ordersaga-operator-starts", Prefetch: busPrefetch,
			Workers: busWorkers, Handle: starts.Handle, Log: ctrl.Log.WithName("starts"),
		})
	}
	for _, c := range consumers {
		if err := mgr.Add(c); err != nil {
			return fmt.Errorf("add consumer of %s: %w", c.Queue, err)
		}
	}
	return nil
}

// addReplyBound adds the reply returner, which bounds how long a reply
// stays unsettled, its readiness check next to the broker's, and the inbox
// metrics.
func addReplyBound(mgr ctrl.Manager, inbox *controller.Inbox, settleTimeout time.Duration, m *metrics.Metrics) error {
	ready, err := apiserverReady(mgr.GetConfig())
	if err != nil {
		return err
	}
	returner := &controller.ReplyReturner{
		Inbox: inbox, SettleTimeout: settleTimeout, APIServerReady: ready,
		Observer: m, Clock: clock.RealClock{}, Log: ctrl.Log.WithName("replies"),
	}
	if err := mgr.Add(returner); err != nil {
		return fmt.Errorf("add reply returner: %w", err)
	}
	if err := mgr.AddReadyzCheck("replies", returner.Check); err != nil {
		return fmt.Errorf("add reply readiness check: %w", err)
	}
	collector, err := metrics.DefaultInboxCollector()
	if err != nil {
		return fmt.Errorf("register inbox metrics: %w", err)
	}
	collector.SetSource(inbox)
	m.ReplyAgeLimit.Set(returner.StuckAfter().Seconds())
	return nil
}

// apiserverReadyTimeout bounds the reply returner's question to the
// apiserver.
const apiserverReadyTimeout = 5 * time.Second

// apiserverReady asks the apiserver's /readyz, which every authenticated
// user may read (system:public-info-viewer), through the manager's own
// connection settings: it answers when the operator's requests can.
func apiserverReady(cfg *rest.Config) (func(context.Context) error, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("apiserver client for readiness: %w", err)
	}
	rc := dc.RESTClient()
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, apiserverReadyTimeout)
		defer cancel()
		if _, err := rc.Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
			return fmt.Errorf("apiserver /readyz: %w", err)
		}
		return nil
	}, nil
}

// metricsSubscribers subscribes the operator's metrics to the reconciler's
// notifications.
func metricsSubscribers(m *metrics.Metrics) func(*mediator.Builder) {
	return func(b *mediator.Builder) {
		mediator.Subscribe(b, func(_ context.Context, n controller.SagaTransitioned) error {
			m.Transitioned(n.Saga, n.Transition)
			return nil
		})
		mediator.Subscribe(b, func(context.Context, controller.StatusWritten) error {
			m.StatusWritten()
			return nil
		})
		mediator.Subscribe(b, func(_ context.Context, n controller.LifecycleEventPublished) error {
			m.LifecycleEventPublished(n.Type, n.Err)
			return nil
		})
		mediator.Subscribe(b, func(_ context.Context, n controller.CommandPublished) error {
			m.CommandPublished(n.Dispatch.Kind, n.Err)
			return nil
		})
	}
}

// participantQueues declares participants' queues in the operator's
// topology.
type participantQueues struct {
	broker   *broker.Broker
	topology broker.Topology
}

func (q participantQueues) QueueName(service string) string {
	return q.topology.ParticipantQueue(service)
}

func (q participantQueues) Ensure(ctx context.Context, queue string, singleActiveConsumer bool, bind, unbind []string) (broker.QueueState, error) {
	return q.broker.EnsureParticipantQueue(ctx, q.topology, queue, singleActiveConsumer, bind, unbind)
}

// deadLetterer sends unusable replies to the operator's dead-letter exchange.
type deadLetterer struct {
	broker   *broker.Broker
	exchange string
}

func (d deadLetterer) DeadLetter(ctx context.Context, delivery amqp.Delivery, reason, detail string) error {
	return d.broker.DeadLetter(ctx, d.exchange, delivery, reason, detail)
}

// ttlSeconds turns the operator's default time to live into the API's
// seconds; negative means kept, nil.
func ttlSeconds(d time.Duration) *int32 {
	if d < 0 {
		return nil
	}
	s := int32(min(d/time.Second, math.MaxInt32)) //nolint:gosec // bounded just above
	return &s
}
