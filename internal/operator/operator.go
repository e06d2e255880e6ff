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
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/internal/controller"
	"github.com/ordersaga/ordersaga-operator/internal/metrics"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
)

// Options configure the operator.
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
	// MaxConcurrentReconciles bounds how many sagas are reconciled at once.
	MaxConcurrentReconciles int
	// Events says which transitions become Kubernetes Events; default
	// phase changes and step outcomes.
	Events controller.EventPolicy
	// BrokerRetryInterval is the wait before retrying when the broker is
	// unavailable.
	BrokerRetryInterval time.Duration
	// MinReconnectDelay and MaxReconnectDelay bound the broker reconnection
	// backoff.
	MinReconnectDelay, MaxReconnectDelay time.Duration
	// Registerer receives the operator's metrics; nil uses controller-runtime's.
	Registerer prometheus.Registerer
	// ReplyUserPrefix, when VerifyReplyUser is set, makes the operator accept
	// a reply to a step only from the broker user "<prefix><service>".
	VerifyReplyUser bool
	ReplyUserPrefix string
	// Observer is told about status writes and transitions; optional.
	Observer controller.Observer
	// WrapClient and WrapPublisher, when set, wrap the reconciler's
	// apiserver client and broker publisher: the fault-injection suite uses
	// them to fail writes, serve stale reads and count publishes.
	WrapClient    func(client.Client) client.Client
	WrapPublisher func(controller.CommandPublisher) controller.CommandPublisher
}

// Operator is the wired operator, for tests that need to reach its parts.
type Operator struct {
	Broker     *broker.Broker
	Inbox      *controller.Inbox
	Reconciler *controller.OrderSagaReconciler
}

// Setup adds the operator to mgr.
func Setup(mgr ctrl.Manager, o Options) (*Operator, error) {
	if o.BrokerURL == "" {
		return nil, errors.New("no broker URL: set --broker-url or --broker-url-file")
	}
	if o.Events != "" && !o.Events.Valid() {
		return nil, fmt.Errorf("unknown event policy %q: all, outcomes or phases", o.Events)
	}
	if o.BrokerTLS != nil && !strings.HasPrefix(o.BrokerURL, "amqps://") {
		// TLS settings with a plaintext URL would silently connect in the
		// clear: refuse instead.
		return nil, errors.New("broker TLS options are set but the broker URL is not amqps://")
	}
	if o.TopologyPrefix == "" {
		o.TopologyPrefix = "ordersaga"
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

	topology := broker.Topology{Prefix: o.TopologyPrefix, ReplyDeliveryLimit: o.ReplyDeliveryLimit}
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

	r := &controller.OrderSagaReconciler{
		Publisher:               b,
		DeadLetters:             deadLetters,
		Topology:                topology,
		Inbox:                   inbox,
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
		Events:                  o.Events,
		BrokerRetryInterval:     o.BrokerRetryInterval,
		Registerer:              o.Registerer,
		ReplyObserver:           m,
		Observer:                controller.Observers{m},
	}
	if o.Observer != nil {
		r.Observer = controller.Observers{m, o.Observer}
	}
	if o.VerifyReplyUser {
		prefix := o.ReplyUserPrefix
		r.Machine.ReplyUser = func(service string) string { return prefix + service }
	}
	if o.WrapClient != nil {
		r.Client = o.WrapClient(mgr.GetClient())
	}
	if o.WrapPublisher != nil {
		r.Publisher = o.WrapPublisher(b)
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up controller: %w", err)
	}
	return &Operator{Broker: b, Inbox: inbox, Reconciler: r}, nil
}

// deadLetterer sends unusable replies to the operator's dead-letter exchange.
type deadLetterer struct {
	broker   *broker.Broker
	exchange string
}

func (d deadLetterer) DeadLetter(ctx context.Context, delivery amqp.Delivery, reason, detail string) error {
	return d.broker.DeadLetter(ctx, d.exchange, delivery, reason, detail)
}
