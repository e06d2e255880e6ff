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

// Package metrics holds the operator's Prometheus metrics. They are served
// by the manager's metrics endpoint (controller-runtime's registry). No label
// carries an unbounded value: phases, outcomes, statuses and reasons come
// from fixed sets; services and commands from the sagas' specs, a handful per
// installation. docs/observability.md lists them.
package metrics

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Label names.
const (
	labelService = "service"
	labelCommand = "command"
	labelKind    = "kind"
	labelReason  = "reason"
	labelOutcome = "outcome"
	// labelDrill is "true" for a compensation drill (status.drill), else
	// "false": dashboards and alerts leave drills out with drill="false".
	labelDrill = "drill"
)

// Metrics are the operator's metrics. They implement the observer
// interfaces of the reconciler, the reply router and the broker.
type Metrics struct {
	SagaDuration         *prometheus.HistogramVec
	StepDuration         *prometheus.HistogramVec
	StepAttempts         *prometheus.CounterVec
	StepRetries          *prometheus.CounterVec
	Compensations        *prometheus.CounterVec
	Transitions          *prometheus.CounterVec
	StatusWrites         prometheus.Counter
	CommandsPublished    *prometheus.CounterVec
	PublishFailures      *prometheus.CounterVec
	EventsPublished      *prometheus.CounterVec
	EventPublishFailures prometheus.Counter
	PublishConfirmTime   prometheus.Histogram
	RepliesReceived      *prometheus.CounterVec
	RepliesDeadLettered  *prometheus.CounterVec
	RepliesReturned      prometheus.Counter
	ReplyAgeLimit        prometheus.Gauge
	BrokerConnected      prometheus.Gauge
	BrokerReconnects     prometheus.Counter

	mu            sync.Mutex
	connectedOnce bool
}

// New returns the metrics, not registered.
func New() *Metrics {
	durations := []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600}
	return &Metrics{
		SagaDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ordersaga_saga_duration_seconds", Buckets: durations,
			Help: "Time from a saga's start to its final phase, by outcome (Completed, Compensated, Failed) and drill (true for a compensation drill).",
		}, []string{labelOutcome, labelDrill}),
		StepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ordersaga_step_duration_seconds", Buckets: durations,
			Help: "Time from a step's first attempt to its outcome (Succeeded, Failed, TimedOut, Interrupted), retries included.",
		}, []string{labelService, labelCommand, labelOutcome}),
		StepAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersaga_step_attempts_total",
			Help: "Attempts sent, by service, command (or compensation) name and kind (command, compensation).",
		}, []string{labelService, labelCommand, labelKind}),
		StepRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersaga_step_retries_total",
			Help: "Attempts that failed and will be retried, by service, command, kind and cause (timeout, unroutable, retryable).",
		}, []string{labelService, labelCommand, labelKind, "cause"}),
		Compensations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersaga_compensations_total",
			Help: "Saga compensations, by event (started, completed, failed) and drill (true for a compensation drill).",
		}, []string{"event", labelDrill}),
		Transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersaga_transitions_total",
			Help: "Saga and step transitions, by reason (the Event reason).",
		}, []string{labelReason}),
		StatusWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ordersaga_status_writes_total",
			Help: "Status writes to the apiserver.",
		}),
		CommandsPublished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersaga_commands_published_total",
			Help: "Commands and compensations published and confirmed by the broker, by kind.",
		}, []string{labelKind}),
		PublishFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersaga_command_publish_failures_total",
			Help: "Publishes that failed, by reason: unroutable, not_connected, not_confirmed, error.",
		}, []string{labelReason}),
		EventsPublished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersaga_lifecycle_events_published_total",
			Help: "Lifecycle events published and confirmed by the broker (or routed to no queue), by type; events published again after a crash count again.",
		}, []string{"type"}),
		EventPublishFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ordersaga_lifecycle_event_publish_failures_total",
			Help: "Lifecycle event publishes the broker did not take; the event stays in the saga's outbox and is published by a later pass.",
		}),
		PublishConfirmTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ordersaga_publish_confirm_duration_seconds",
			Help:    "Time from publishing a message to the broker's confirm.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		RepliesReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersaga_replies_received_total",
			Help: "Well-formed replies received, by status: succeeded, failed, retryable.",
		}, []string{"status"}),
		RepliesDeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersaga_replies_dead_lettered_total",
			Help: "Replies moved to the dead-letter queue, by reason.",
		}, []string{labelReason}),
		RepliesReturned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ordersaga_replies_returned_total",
			Help: "Replies returned to the broker for redelivery because their saga's passes kept failing past the settle timeout.",
		}),
		ReplyAgeLimit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ordersaga_inbox_reply_age_limit_seconds",
			Help: "Age beyond which an unsettled reply makes /readyz fail (twice --reply-settle-timeout).",
		}),
		BrokerConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ordersaga_broker_connected",
			Help: "1 while the broker connection is up and the broker does not block publishing, else 0.",
		}),
		BrokerReconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ordersaga_broker_reconnects_total",
			Help: "Connections to the broker made after the first one.",
		}),
	}
}

// Register registers the metrics with reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	collectors := []prometheus.Collector{m.SagaDuration, m.StepDuration, m.StepAttempts, m.StepRetries,
		m.Compensations, m.Transitions, m.StatusWrites, m.CommandsPublished, m.PublishFailures, m.EventsPublished, m.EventPublishFailures, m.PublishConfirmTime,
		m.RepliesReceived, m.RepliesDeadLettered, m.RepliesReturned, m.ReplyAgeLimit, m.BrokerConnected, m.BrokerReconnects}
	errs := make([]error, 0, len(collectors))
	for _, c := range collectors {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}

var (
	defaultMetrics = New()
	registerOnce   sync.Once
	registerErr    error
)

// Default returns the process's metrics, registered once with
// controller-runtime's registry, which the manager serves. Managers started
// one after another in one process (tests, the demo) share them.
func Default() (*Metrics, error) {
	registerOnce.Do(func() { registerErr = defaultMetrics.Register(ctrlmetrics.Registry) })
	return defaultMetrics, registerErr
}
