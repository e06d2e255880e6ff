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

// Package lifecycle turns a saga's history into the lifecycle events order
// services receive on the bus (docs/events.md). It is pure: the same saga
// and history entry always give the same message, which is what makes
// publishing it again after a crash safe.
package lifecycle

import (
	"encoding/json"
	"fmt"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// eventOf is the lifecycle event each transition reason announces, with the
// saga's phase it implies ("" for a step event); a reason absent here is
// recorded in the history but announces nothing (a command sent, a retry
// scheduled).
var eventOf = map[ordersv1alpha1.TransitionReason]struct {
	Type  protocol.EventType
	Phase ordersv1alpha1.SagaPhase
}{
	ordersv1alpha1.TransitionStarted: {protocol.EventSagaStarted, ordersv1alpha1.PhaseRunning},
	// A saga announced compensated runs again: consumers must learn it.
	ordersv1alpha1.TransitionResumeForwardRequested: {protocol.EventSagaStarted, ordersv1alpha1.PhaseRunning},
	ordersv1alpha1.TransitionStepSucceeded:          {protocol.EventStepSucceeded, ""},
	ordersv1alpha1.TransitionStepFailed:             {protocol.EventStepFailed, ""},
	ordersv1alpha1.TransitionStepTimedOut:           {protocol.EventStepFailed, ""},
	ordersv1alpha1.TransitionCompensationStarted:    {protocol.EventCompensationStarted, ordersv1alpha1.PhaseCompensating},
	ordersv1alpha1.TransitionCompensationResumed:    {protocol.EventCompensationStarted, ordersv1alpha1.PhaseCompensating},
	ordersv1alpha1.TransitionCompensateRequested:    {protocol.EventCompensationStarted, ordersv1alpha1.PhaseCompensating},
	ordersv1alpha1.TransitionStepCompensated:        {protocol.EventStepCompensated, ""},
	ordersv1alpha1.TransitionCompleted:              {protocol.EventSagaCompleted, ordersv1alpha1.PhaseCompleted},
	ordersv1alpha1.TransitionCompensated:            {protocol.EventSagaCompensated, ordersv1alpha1.PhaseCompensated},
	ordersv1alpha1.TransitionFailed:                 {protocol.EventSagaFailed, ordersv1alpha1.PhaseFailed},
	ordersv1alpha1.TransitionCancelled:              {protocol.EventSagaCancelled, ordersv1alpha1.PhaseCompensated},
	ordersv1alpha1.TransitionNamespaceNotAdmitted:   {protocol.EventSagaCompensated, ordersv1alpha1.PhaseCompensated},
	ordersv1alpha1.TransitionStepCompensationFailed: {protocol.EventStepFailed, ""},
	ordersv1alpha1.TransitionStepDrilled:            {protocol.EventStepFailed, ""},
}

// Announces reports whether a transition with this reason is published as a
// lifecycle event.
func Announces(reason ordersv1alpha1.TransitionReason) bool {
	_, ok := eventOf[reason]
	return ok
}

// Pending returns the history entries of the saga after seq through whose
// events are still to be published, oldest first. Entries dropped from the
// bounded history are not there to publish: Lost counts them.
func Pending(st *ordersv1alpha1.OrderSagaStatus, through int32) (pending []ordersv1alpha1.HistoryEntry, lost int32) {
	if first := st.HistoryDropped + 1; through+1 < first {
		lost = first - through - 1
	}
	for _, e := range st.History {
		if e.Seq > through && Announces(e.Reason) {
			pending = append(pending, e)
		}
	}
	return pending, lost
}

// Drained reports whether every event of the saga's history is published,
// given the last sequence number known published.
func Drained(st *ordersv1alpha1.OrderSagaStatus, through int32) bool {
	return through >= saga.LastSeq(st)
}

// Message builds the lifecycle event of the saga's history entry e: its
// routing key and the persistent message, whose id is derived from the
// saga's uid and e.Seq.
func Message(s *ordersv1alpha1.OrderSaga, e ordersv1alpha1.HistoryEntry) (string, amqpconn.Message, error) {
	kind, ok := eventOf[e.Reason]
	if !ok {
		return "", amqpconn.Message{}, fmt.Errorf("transition %s announces no event", e.Reason)
	}
	ev := protocol.Event{
		ID:      protocol.EventID(string(s.UID), e.Seq),
		Type:    kind.Type,
		Seq:     e.Seq,
		Time:    e.Time.UTC(),
		Saga:    protocol.SagaRef{Namespace: s.Namespace, Name: s.Name, UID: string(s.UID)},
		OrderID: s.Spec.Order.ID,
		Step:    e.Step,
		Reason:  string(e.Reason),
		Message: e.Message,
		Phase:   string(kind.Phase),
		Drill:   s.Status.Drill,
	}
	template := ""
	if t := s.Status.Template; t != nil {
		template, ev.Template, ev.TemplateGeneration = t.Name, t.Name, t.Generation
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return "", amqpconn.Message{}, fmt.Errorf("encode event: %w", err)
	}
	return protocol.EventRoutingKey(s.Namespace, template, kind.Type), amqpconn.Message{
		MessageID:   ev.ID,
		Type:        string(kind.Type),
		ContentType: protocol.ContentType,
		Body:        body,
		// The transition's time, not the send time: an event published again
		// is the same message.
		Timestamp: e.Time.UTC(),
	}, nil
}
