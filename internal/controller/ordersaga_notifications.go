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
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/mediator"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// The reconciler's notifications: facts announced once on its bus, after
// they happened, and fanned out to every subscriber.
type (
	// SagaTransitioned is one transition, announced after the status that
	// records it is persisted: Events, logs and metrics subscribe.
	SagaTransitioned struct {
		Saga       *ordersv1alpha1.OrderSaga
		Transition saga.Transition
	}
	// StatusWritten is a status write that succeeded.
	StatusWritten struct{ Saga *ordersv1alpha1.OrderSaga }
	// CommandPublished is one publish of an in-flight message, with its
	// error (nil once the broker confirmed it).
	CommandPublished struct {
		Saga     *ordersv1alpha1.OrderSaga
		Dispatch saga.Dispatch
		Err      error
	}
	// LifecycleEventPublished is one publish of a lifecycle event, with its
	// error (nil once the broker confirmed it, or no queue was bound for it).
	LifecycleEventPublished struct {
		Saga *ordersv1alpha1.OrderSaga
		Type protocol.EventType
		Err  error
	}
	// ReplySettled is a reply to a step of Service, acknowledged or
	// dead-lettered, once the status that records it is written: the
	// Participant's status follows it.
	ReplySettled struct {
		Service      string
		At           time.Time
		DeadLettered bool
	}
)

// notifiers are the reconciler's publishers, resolved once.
type notifiers struct {
	transitioned     mediator.Publisher[SagaTransitioned]
	statusWritten    mediator.Publisher[StatusWritten]
	commandPublished mediator.Publisher[CommandPublished]
	replySettled     mediator.Publisher[ReplySettled]
	eventPublished   mediator.Publisher[LifecycleEventPublished]
}

func newNotifiers(bus *mediator.Mediator) notifiers {
	return notifiers{
		transitioned:     mediator.PublisherFor[SagaTransitioned](bus),
		statusWritten:    mediator.PublisherFor[StatusWritten](bus),
		commandPublished: mediator.PublisherFor[CommandPublished](bus),
		replySettled:     mediator.PublisherFor[ReplySettled](bus),
		eventPublished:   mediator.PublisherFor[LifecycleEventPublished](bus),
	}
}

// announce tells what a pass wrote: the status write, then each transition
// it records. A subscriber's failure is logged, never returned: the status
// is written and the pass goes on.
func (r *OrderSagaReconciler) announce(ctx context.Context, obj *ordersv1alpha1.OrderSaga, written bool, transitions []saga.Transition) {
	if written {
		if err := r.notify.statusWritten(ctx, StatusWritten{Saga: obj}); err != nil {
			ctrl.LoggerFrom(ctx).Info("Status write subscriber failed", "error", err.Error())
		}
	}
	for _, t := range transitions {
		if err := r.notify.transitioned(ctx, SagaTransitioned{Saga: obj, Transition: t}); err != nil {
			ctrl.LoggerFrom(ctx).Info("Transition subscriber failed", "reason", t.Reason, "error", err.Error())
		}
	}
}

// recordEvent records a Kubernetes Event for a transition, so that
// "kubectl describe" reads as the saga's history.
func (r *OrderSagaReconciler) recordEvent(_ context.Context, n SagaTransitioned) error {
	t := n.Transition
	if t.Quiet || !r.Events.records(t) {
		return nil // logged and counted; an Event would cost an apiserver write
	}
	eventType := corev1.EventTypeNormal
	if t.Warning {
		eventType = corev1.EventTypeWarning
	}
	action := "Orchestrate"
	note := t.Message
	switch {
	case t.Step != "" && t.Kind == protocol.KindCompensation:
		action = "Compensate"
		note = "Step " + t.Step + ": " + note
	case t.Step != "":
		action = "Execute"
		note = "Step " + t.Step + ": " + note
	}
	// The apiserver refuses an Event whose note exceeds 1024 characters.
	r.Recorder.Eventf(n.Saga, nil, eventType, string(t.Reason), action, "%s", truncateNote(note, maxEventNote))
	return nil
}

// maxEventNote is the longest note the apiserver accepts on an Event.
const maxEventNote = 1024

// logTransition writes one line per transition at the default level; the
// controller's logger already names the saga.
func logTransition(ctx context.Context, n SagaTransitioned) error {
	t := n.Transition
	log := ctrl.LoggerFrom(ctx).WithValues("reason", t.Reason, "from", t.From, "to", t.To)
	if t.Step != "" {
		log = log.WithValues("step", t.Step, "kind", string(t.Kind), "attempt", t.Attempt, "messageID", t.MessageID)
	}
	if t.Quiet {
		log.V(1).Info("Saga transition", "message", t.Message)
		return nil
	}
	log.Info("Saga transition", "message", t.Message)
	return nil
}

// truncateNote cuts s to at most n bytes on a UTF-8 boundary, marking the cut.
func truncateNote(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return protocol.Truncate(s, n-3) + "..."
}

// EventPolicy says which transitions become Kubernetes Events. Each Event is
// an apiserver write, as costly as a status write, and the saga's own
// status.history already keeps every transition.
type EventPolicy string

const (
	// EventsAll records phase changes, step outcomes, and every command and
	// compensation sent.
	EventsAll EventPolicy = "all"
	// EventsOutcomes records phase changes and step outcomes.
	EventsOutcomes EventPolicy = "outcomes"
	// EventsPhases records phase changes only.
	EventsPhases EventPolicy = "phases"
	// EventsWarnings records bad news only (the Warning transitions:
	// failures, retries, timeouts, blocks, compensation and its outcome,
	// suspensions) and drills: what people and alerting tools watch. A saga
	// that goes well costs no Event. The default.
	EventsWarnings EventPolicy = "warnings"
)

// DefaultEventPolicy is the policy of a manager started without --events.
const DefaultEventPolicy = EventsWarnings

// Valid reports whether p is a known policy.
func (p EventPolicy) Valid() bool {
	return p == EventsAll || p == EventsOutcomes || p == EventsPhases || p == EventsWarnings
}

func (p EventPolicy) records(t saga.Transition) bool {
	if t.Request != "" {
		return true // a person's verb is recorded whatever the policy: it is the audit trail
	}
	switch p {
	case EventsAll:
		return true
	case EventsPhases:
		return t.Step == ""
	case EventsOutcomes:
		return t.Reason != ordersv1alpha1.TransitionStepStarted && t.Reason != ordersv1alpha1.TransitionStepCompensating
	default:
		return t.Warning || t.Reason == ordersv1alpha1.TransitionStepDrilled
	}
}
