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

package metrics

import (
	"errors"
	"strconv"
	"time"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// StatusWritten counts a status write.
func (m *Metrics) StatusWritten() { m.StatusWrites.Inc() }

// Transitioned turns a transition into durations and counts.
func (m *Metrics) Transitioned(obj *ordersv1alpha1.OrderSaga, t saga.Transition) {
	m.Transitions.WithLabelValues(string(t.Reason)).Inc()
	if t.Step == "" {
		m.sagaTransition(obj, t)
		return
	}
	i := t.StepIndex
	if i < 0 || i >= len(obj.RunSteps()) || i >= len(obj.Status.Steps) {
		return
	}
	step, rec := obj.RunSteps()[i], obj.Status.Steps[i]
	command := step.Command.Name
	if t.Kind == protocol.KindCompensation && step.Compensation != nil {
		command = step.Compensation.Name
	}
	kind := string(t.Kind)
	switch t.Reason {
	case ordersv1alpha1.TransitionStepStarted, ordersv1alpha1.TransitionStepRetried,
		ordersv1alpha1.TransitionStepCompensating, ordersv1alpha1.TransitionStepCompensationRetried:
		m.StepAttempts.WithLabelValues(step.Service, command, kind).Inc()
	case ordersv1alpha1.TransitionStepRetrying:
		m.StepRetries.WithLabelValues(step.Service, command, kind, cause(rec.Reason)).Inc()
	case ordersv1alpha1.TransitionStepCompensationRetrying:
		m.StepRetries.WithLabelValues(step.Service, command, kind, cause(rec.CompensationReason)).Inc()
	case ordersv1alpha1.TransitionStepSucceeded, ordersv1alpha1.TransitionStepFailed,
		ordersv1alpha1.TransitionStepTimedOut, ordersv1alpha1.TransitionStepInterrupted:
		if rec.StartedAt != nil && rec.CompletedAt != nil {
			d := rec.CompletedAt.Sub(rec.StartedAt.Time)
			m.StepDuration.WithLabelValues(step.Service, command, t.To).Observe(max(d, 0).Seconds())
		}
	}
}

func (m *Metrics) sagaTransition(obj *ordersv1alpha1.OrderSaga, t saga.Transition) {
	drill := strconv.FormatBool(obj.Status.Drill)
	switch t.Reason {
	case ordersv1alpha1.TransitionCompensationStarted:
		m.Compensations.WithLabelValues("started", drill).Inc()
	case ordersv1alpha1.TransitionCompensated:
		m.Compensations.WithLabelValues("completed", drill).Inc()
	case ordersv1alpha1.TransitionFailed:
		m.Compensations.WithLabelValues("failed", drill).Inc()
	}
	phase := ordersv1alpha1.SagaPhase(t.To)
	if phase.IsFinal() && obj.Status.StartTime != nil && obj.Status.CompletionTime != nil {
		d := obj.Status.CompletionTime.Sub(obj.Status.StartTime.Time)
		m.SagaDuration.WithLabelValues(t.To, drill).Observe(max(d, 0).Seconds())
	}
}

// cause maps a step's reason to a bounded label value.
func cause(reason string) string {
	switch reason {
	case ordersv1alpha1.StepReasonTimeout:
		return "timeout"
	case ordersv1alpha1.StepReasonUnroutable:
		return "unroutable"
	default:
		return "retryable"
	}
}

// CommandPublished counts a publish of a command or compensation.
func (m *Metrics) CommandPublished(kind protocol.Kind, err error) {
	if err == nil {
		m.CommandsPublished.WithLabelValues(string(kind)).Inc()
		return
	}
	reason := "error"
	switch {
	case errors.Is(err, amqpconn.ErrNotConnected):
		reason = "not_connected"
	case errors.Is(err, amqpconn.ErrNotConfirmed):
		reason = "not_confirmed"
	default:
		if _, ok := errors.AsType[*amqpconn.UnroutableError](err); ok {
			reason = "unroutable"
		}
	}
	m.PublishFailures.WithLabelValues(reason).Inc()
}

// LifecycleEventPublished counts one publish of a lifecycle event.
func (m *Metrics) LifecycleEventPublished(eventType protocol.EventType, err error) {
	if err != nil {
		m.EventPublishFailures.Inc()
		return
	}
	m.EventsPublished.WithLabelValues(string(eventType)).Inc()
}

// ReplyReceived implements controller.ReplyObserver.
func (m *Metrics) ReplyReceived(status string) { m.RepliesReceived.WithLabelValues(status).Inc() }

// ReplyDeadLettered implements controller.ReplyObserver.
func (m *Metrics) ReplyDeadLettered(reason string) {
	m.RepliesDeadLettered.WithLabelValues(reason).Inc()
}

// ReplyReturned implements controller.ReplyObserver.
func (m *Metrics) ReplyReturned() { m.RepliesReturned.Inc() }

// ConnectionChanged implements amqpconn.Observer.
func (m *Metrics) ConnectionChanged(up bool) {
	if !up {
		m.BrokerConnected.Set(0)
		return
	}
	m.BrokerConnected.Set(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.connectedOnce {
		m.BrokerReconnects.Inc()
	}
	m.connectedOnce = true
}

// PublishingBlocked implements amqpconn.Observer: a connection the broker
// blocks sends no command, so it does not count as connected.
func (m *Metrics) PublishingBlocked(blocked bool) {
	if blocked {
		m.BrokerConnected.Set(0)
	} else {
		m.BrokerConnected.Set(1)
	}
}

// Published implements amqpconn.Observer.
func (m *Metrics) Published(latency time.Duration, err error) {
	if err == nil {
		m.PublishConfirmTime.Observe(latency.Seconds())
	}
}
