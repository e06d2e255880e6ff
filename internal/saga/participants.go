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

package saga

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Participants is the registry as one pass sees it, for one saga: the
// registered participants by service name. A nil registry lets every step
// through (the machine's own tests); an empty one lets none through.
type Participants map[string]Participant

// Participant is what the machine knows of a registered participant.
type Participant struct {
	Spec ordersv1alpha1.ParticipantSpec
	// Admitted says its namespaceSelector admits the saga's namespace.
	Admitted bool
}

// gate says whether step i's command or compensation may be sent now. A
// step that may not waits, with the Blocked condition saying why: its
// service is not registered, does not declare the command, or is
// suspended. A command to a service that does not admit the saga's
// namespace is never sent: the saga compensates what it did, if anything.
// Compensations are not subject to the namespace: they undo what the
// service already did for the saga.
func (r *run) gate(i int, kind protocol.Kind) bool {
	if r.m.Participants == nil {
		return true
	}
	step := r.saga.RunSteps()[i]
	p, ok := r.m.Participants[step.Service]
	name := commandName(step, kind)
	switch {
	case !ok:
		r.block(i, ordersv1alpha1.ReasonParticipantNotRegistered,
			fmt.Sprintf("Step %s waits: no Participant %s is registered", step.Name, step.Service))
		return false
	case !declares(p, kind, name):
		r.block(i, ordersv1alpha1.ReasonCommandNotDeclared,
			fmt.Sprintf("Step %s waits: Participant %s does not declare the %s %s", step.Name, step.Service, kind, name))
		return false
	case p.Spec.Suspend:
		r.block(i, ordersv1alpha1.ReasonParticipantSuspended,
			fmt.Sprintf("Step %s waits: Participant %s is suspended", step.Name, step.Service))
		return false
	case kind == protocol.KindCommand && !p.Admitted:
		r.unblock()
		r.beginCompensation(ordersv1alpha1.ReasonNamespaceNotAdmitted, notAdmitted(r.saga, step.Service))
		return false
	}
	if !r.blocked {
		r.unblock() // unless another step, sent beside this one, is held
	}
	return true
}

// admitted checks, before a saga starts, that every registered participant
// of its steps admits its namespace; it reports the first that does not.
// Participants registered later are checked before their step's command.
func (r *run) admitted() (string, bool) {
	if r.m.Participants == nil {
		return "", true
	}
	for _, step := range r.saga.RunSteps() {
		if p, ok := r.m.Participants[step.Service]; ok && !p.Admitted {
			return step.Service, false
		}
	}
	return "", true
}

func notAdmitted(saga *ordersv1alpha1.OrderSaga, service string) string {
	return fmt.Sprintf("Participant %s does not admit namespace %s (its namespaceSelector)", service, saga.Namespace)
}

func declares(p Participant, kind protocol.Kind, name string) bool {
	_, ok := p.command(kind, name)
	return ok
}

func (p Participant) command(kind protocol.Kind, name string) (ordersv1alpha1.ParticipantCommand, bool) {
	list := p.Spec.Commands
	if kind == protocol.KindCompensation {
		list = p.Spec.Compensations
	}
	for _, c := range list {
		if c.Name == name {
			return c, true
		}
	}
	return ordersv1alpha1.ParticipantCommand{}, false
}

func commandName(step ordersv1alpha1.SagaStep, kind protocol.Kind) string {
	if kind == protocol.KindCompensation && step.Compensation != nil {
		return step.Compensation.Name
	}
	return step.Command.Name
}

// block records that step i waits, once: the Blocked condition and, when it
// changes, a transition (an Event).
func (r *run) block(i int, reason, message string) {
	r.blocked = true
	c := meta.FindStatusCondition(r.st.Conditions, ordersv1alpha1.ConditionBlocked)
	if c != nil && c.Status == metav1.ConditionTrue && c.Reason == reason && c.Message == message {
		return
	}
	meta.SetStatusCondition(&r.st.Conditions, metav1.Condition{
		Type: ordersv1alpha1.ConditionBlocked, Status: metav1.ConditionTrue, Reason: reason, Message: message,
		ObservedGeneration: r.saga.Generation,
	})
	rec := &r.st.Steps[i]
	r.out.Transitions = append(r.out.Transitions, Transition{
		Reason: ordersv1alpha1.TransitionStepBlocked, Warning: true, Step: rec.Name, StepIndex: i,
		Kind: protocol.KindCommand, MessageID: rec.MessageID, From: string(rec.State), To: string(rec.State), Message: message,
	})
}

// blockTimers sets the Blocked condition of a pause (no transition: a
// broker outage or a suspended participant would otherwise make an Event
// per saga).
func (r *run) blockTimers(reason, message string) {
	meta.SetStatusCondition(&r.st.Conditions, metav1.Condition{
		Type: ordersv1alpha1.ConditionBlocked, Status: metav1.ConditionTrue, Reason: reason, Message: message,
		ObservedGeneration: r.saga.Generation,
	})
}

// unblock removes the Blocked condition a gate set.
func (r *run) unblock() {
	meta.RemoveStatusCondition(&r.st.Conditions, ordersv1alpha1.ConditionBlocked)
}

// policy is step i's retry policy for its command or compensation: the
// step's own, else the one its participant declares for the command, else
// the defaults.
func (r *run) policy(i int, kind protocol.Kind) ordersv1alpha1.RetryPolicy {
	step := r.saga.RunSteps()[i]
	if step.Retry != (ordersv1alpha1.RetryPolicy{}) {
		return step.Retry
	}
	if c, ok := r.participantCommand(i, kind); ok && c.Retry != nil {
		return *c.Retry
	}
	return ordersv1alpha1.RetryPolicy{}
}

// timeout is step i's reply timeout for its command or compensation: the
// step's own, else the one its participant declares for the command, else
// the default.
func (r *run) timeout(i int, kind protocol.Kind) time.Duration {
	if d := r.saga.RunSteps()[i].Timeout.Get(); d > 0 {
		return d
	}
	if c, ok := r.participantCommand(i, kind); ok && c.Timeout.Get() > 0 {
		return c.Timeout.Get()
	}
	return defaultTimeout
}

func (r *run) participantCommand(i int, kind protocol.Kind) (ordersv1alpha1.ParticipantCommand, bool) {
	step := r.saga.RunSteps()[i]
	p, ok := r.m.Participants[step.Service]
	if !ok {
		return ordersv1alpha1.ParticipantCommand{}, false
	}
	return p.command(kind, commandName(step, kind))
}

// authentic says a reply to step i comes from the broker user its
// participant registered (RabbitMQ validates user_id against the connection
// that published it). Without a registry every reply is taken.
func (r *run) authentic(i int, userID string) bool {
	if r.m.Participants == nil {
		return true
	}
	p, ok := r.m.Participants[r.saga.RunSteps()[i].Service]
	return ok && userID != "" && userID == p.Spec.BrokerUser
}
