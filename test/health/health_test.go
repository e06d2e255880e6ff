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

// Package health checks how GitOps tools read an OrderSaga's health, side
// by side: the Argo CD health check shipped in config/argocd, and kstatus,
// the library Flux and kubectl-based tools use. The statuses are written by
// the operator's own state machine, driven as the controller drives it.
package health

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// brokerUser is the user every participant of the stories replies as.
const brokerUser = "participant"

// story drives the three-step sample saga (inventory, payment, shipping)
// through the state machine with the three participants registered, one
// attempt per command and compensation so that one failed reply is final.
type story struct {
	t        *testing.T
	m        saga.Machine
	registry saga.Participants
	saga     *ordersv1alpha1.OrderSaga
	now      time.Time
}

func newStory(t *testing.T) *story {
	t.Helper()
	s := fixtures.NewSaga("shop", "order-1")
	s.UID, s.Generation = "uid-1", 1
	for i := range s.Spec.Steps {
		s.Spec.Steps[i].Retry = ordersv1alpha1.RetryPolicy{MaxAttempts: 1}
	}
	registry := saga.Participants{}
	for _, p := range fixtures.NewParticipants(brokerUser) {
		registry[p.Name] = saga.Participant{Spec: p.Spec, Admitted: true}
	}
	m := saga.Machine{Jitter: func() float64 { return 0 }, Participants: registry}
	return &story{t: t, m: m, registry: registry, saga: s, now: t0}
}

// change edits the registration of service, as a Participant edit would.
func (s *story) change(service string, edit func(*ordersv1alpha1.ParticipantSpec)) *story {
	p := s.registry[service]
	edit(&p.Spec)
	s.registry[service] = p
	return s
}

// start gives the saga its first status, as the controller's first pass.
func (s *story) start() *story {
	saga.Initialize(s.saga)
	return s
}

func (s *story) tick() *story {
	s.now = s.now.Add(time.Second)
	s.m.Apply(s.saga, s.now, saga.Tick{})
	return s
}

// pause pauses the saga's timers with the reason the controller gives.
func (s *story) pause(reason, message string) *story {
	s.m.Apply(s.saga, s.now, saga.PauseTimers{Since: s.now, Reason: reason, Message: message})
	return s
}

// brokerDown is the controller's pass while the broker is unavailable.
func (s *story) brokerDown() *story {
	saga.Initialize(s.saga)
	return s.pause(ordersv1alpha1.ReasonBrokerUnavailable,
		"No command can leave: the broker is disconnected or blocks publishing")
}

// suspended is the controller's pause when the step the saga is at
// belongs to a suspended participant.
func (s *story) suspended(service string) *story {
	return s.pause(ordersv1alpha1.ReasonParticipantSuspended,
		"Participant "+service+" is suspended: nothing is sent to it and the saga's timers are paused")
}

// reply answers the last message of step, then ticks.
func (s *story) reply(step string, st protocol.Status) *story {
	s.t.Helper()
	i := slices.IndexFunc(s.saga.Status.Steps, func(r ordersv1alpha1.StepStatus) bool { return r.Name == step })
	if i < 0 {
		s.t.Fatalf("no record of step %s", step)
	}
	rec := s.saga.Status.Steps[i]
	kind, attempt := protocol.KindCommand, rec.Attempts
	if rec.State == ordersv1alpha1.StepCompensating {
		kind, attempt = protocol.KindCompensation, rec.CompensationAttempts
	}
	round := s.saga.Status.RetryRound
	out := s.m.Apply(s.saga, s.now, saga.ReplyReceived{
		Headers: protocol.Headers{SagaNamespace: s.saga.Namespace, SagaName: s.saga.Name, SagaUID: string(s.saga.UID),
			Step: step, Kind: kind, Round: round, Attempt: attempt},
		CorrelationID: protocol.MessageID(string(s.saga.UID), step, kind, round, attempt),
		UserID:        brokerUser,
		Reply:         protocol.Reply{Status: st, Message: "as the test says"},
	})
	if out.Verdict != saga.Applied {
		s.t.Fatalf("reply to %s %s: %s", step, kind, out.Verdict)
	}
	return s.tick()
}

// hold is the controller's pass once spec.suspend is set: Suspend instead
// of the Tick.
func (s *story) hold() *story {
	s.saga.Spec.Suspend = true
	s.now = s.now.Add(time.Second)
	s.m.Apply(s.saga, s.now, saga.Suspend{})
	return s
}

func (s *story) retry() *story {
	s.m.Apply(s.saga, s.now, saga.RetryRequested{Token: "1"})
	return s.tick()
}

// in returns the saga, failing unless it is in phase.
func (s *story) in(phase ordersv1alpha1.SagaPhase) *ordersv1alpha1.OrderSaga {
	s.t.Helper()
	if s.saga.Status.Phase != phase {
		s.t.Fatalf("the story ends in phase %q, want %q", s.saga.Status.Phase, phase)
	}
	return s.saga
}

const (
	reserve = "reserve-inventory"
	charge  = "charge-payment"
	ship    = "schedule-shipment"
)

func undeclare(p *ordersv1alpha1.ParticipantSpec) { p.Commands = nil }
func suspend(p *ordersv1alpha1.ParticipantSpec)   { p.Suspend = true }

// The sagas of the table, each as the operator leaves it.
func pending(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).start().in(ordersv1alpha1.PhasePending)
}

func pendingBrokerDown(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).brokerDown().in(ordersv1alpha1.PhasePending)
}

// pendingNoTemplate is a saga whose SagaTemplate does not exist, with the
// condition the controller sets (the template is resolved outside the
// machine).
func pendingNoTemplate(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	s := newStory(t)
	s.saga.Spec.Steps = nil
	s.saga.Spec.TemplateRef = &ordersv1alpha1.TemplateReference{Name: "checkout"}
	saga.Initialize(s.saga)
	meta.SetStatusCondition(&s.saga.Status.Conditions, metav1.Condition{
		Type: ordersv1alpha1.ConditionBlocked, Status: metav1.ConditionTrue, Reason: ordersv1alpha1.ReasonTemplateNotFound,
		Message:            "No SagaTemplate checkout in namespace shop: the saga starts once it exists",
		ObservedGeneration: s.saga.Generation,
	})
	return s.in(ordersv1alpha1.PhasePending)
}

func running(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).start().tick().in(ordersv1alpha1.PhaseRunning)
}

func runningBrokerDown(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).start().tick().brokerDown().in(ordersv1alpha1.PhaseRunning)
}

func runningSuspended(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).change("payment", suspend).start().tick().
		reply(reserve, protocol.StatusSucceeded).suspended("payment").in(ordersv1alpha1.PhaseRunning)
}

func runningHeld(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).start().tick().reply(reserve, protocol.StatusSucceeded).hold().in(ordersv1alpha1.PhaseRunning)
}

func compensatingHeld(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).start().tick().reply(reserve, protocol.StatusSucceeded).
		reply(charge, protocol.StatusFailed).hold().in(ordersv1alpha1.PhaseCompensating)
}

// runningHeldAndBlocked is held by a person while its participant is
// suspended too: the person's hold is what Argo CD shows.
func runningHeldAndBlocked(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).change("payment", suspend).start().tick().
		reply(reserve, protocol.StatusSucceeded).suspended("payment").hold().in(ordersv1alpha1.PhaseRunning)
}

func runningNotRegistered(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	s := newStory(t)
	delete(s.registry, "payment")
	return s.start().tick().reply(reserve, protocol.StatusSucceeded).in(ordersv1alpha1.PhaseRunning)
}

func runningNotDeclared(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).change("payment", undeclare).start().tick().
		reply(reserve, protocol.StatusSucceeded).in(ordersv1alpha1.PhaseRunning)
}

func compensating(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).start().tick().reply(reserve, protocol.StatusSucceeded).
		reply(charge, protocol.StatusFailed).in(ordersv1alpha1.PhaseCompensating)
}

func compensatingSuspended(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	s := newStory(t).start().tick().reply(reserve, protocol.StatusSucceeded)
	return s.change("inventory", suspend).reply(charge, protocol.StatusFailed).
		suspended("inventory").in(ordersv1alpha1.PhaseCompensating)
}

func compensatingRetried(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).start().tick().reply(reserve, protocol.StatusSucceeded).
		reply(charge, protocol.StatusFailed).reply(reserve, protocol.StatusFailed).
		retry().in(ordersv1alpha1.PhaseCompensating)
}

func completed(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).start().tick().reply(reserve, protocol.StatusSucceeded).
		reply(charge, protocol.StatusSucceeded).reply(ship, protocol.StatusSucceeded).in(ordersv1alpha1.PhaseCompleted)
}

func compensated(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).start().tick().reply(reserve, protocol.StatusSucceeded).
		reply(charge, protocol.StatusFailed).reply(reserve, protocol.StatusSucceeded).in(ordersv1alpha1.PhaseCompensated)
}

func failed(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).start().tick().reply(reserve, protocol.StatusSucceeded).
		reply(charge, protocol.StatusFailed).reply(reserve, protocol.StatusFailed).in(ordersv1alpha1.PhaseFailed)
}

// fresh is a saga the operator has not seen yet: no status.
func fresh(t *testing.T) *ordersv1alpha1.OrderSaga {
	t.Helper()
	return newStory(t).saga
}

// with changes the status of a saga of the table, for the cases the
// operator does not write (yet): older or newer operators, other writers.
func with(base func(*testing.T) *ordersv1alpha1.OrderSaga, edit func(*ordersv1alpha1.OrderSagaStatus)) func(*testing.T) *ordersv1alpha1.OrderSaga {
	return func(t *testing.T) *ordersv1alpha1.OrderSaga {
		t.Helper()
		s := base(t)
		edit(&s.Status)
		return s
	}
}

func setCondition(st *ordersv1alpha1.OrderSagaStatus, t string, s metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: message})
}

// Edits of the object, around the status.
func specEdited(u *unstructured.Unstructured) { u.SetGeneration(u.GetGeneration() + 1) }

func retired(u *unstructured.Unstructured) {
	u.SetLabels(map[string]string{ordersv1alpha1.FinishedLabel: "true"})
}

func retiredThenEdited(u *unstructured.Unstructured) { retired(u); specEdited(u) }

func deleted(u *unstructured.Unstructured) {
	u.SetDeletionTimestamp(&metav1.Time{Time: t0.Add(time.Hour)})
	u.SetFinalizers([]string{ordersv1alpha1.Finalizer})
}

// TestHealth gives each saga's health as Argo CD (with the shipped check)
// and kstatus see it. In a message, {Type} stands for the message of the
// saga's condition Type.
func TestHealth(t *testing.T) {
	script := readFile(t, scriptPath)
	tests := []struct {
		name    string
		saga    func(*testing.T) *ordersv1alpha1.OrderSaga
		edit    func(*unstructured.Unstructured)
		argo    string
		message string
		kstatus status.Status
	}{
		// Before the operator's first status, kstatus has nothing to go
		// by and calls the saga Current.
		{name: "not seen by the operator yet", saga: fresh,
			argo: "Progressing", message: "Waiting for the operator", kstatus: status.CurrentStatus},

		{name: "Pending", saga: pending,
			argo: "Progressing", message: "Pending: {Reconciling}", kstatus: status.InProgressStatus},
		// A pending saga has no timer to pause: an outage does not block it.
		{name: "Pending, broker unavailable", saga: pendingBrokerDown,
			argo: "Progressing", message: "Pending: {Reconciling}", kstatus: status.InProgressStatus},
		{name: "Pending, Blocked TemplateNotFound", saga: pendingNoTemplate,
			argo: "Degraded", message: "Pending, blocked (TemplateNotFound): {Blocked}", kstatus: status.InProgressStatus},

		{name: "Running", saga: running,
			argo: "Progressing", message: "Running: {Reconciling}", kstatus: status.InProgressStatus},
		{name: "Running, Blocked BrokerUnavailable", saga: runningBrokerDown,
			argo: "Progressing", message: "Running, blocked (BrokerUnavailable): {Blocked}", kstatus: status.InProgressStatus},
		{name: "Running, Blocked ParticipantSuspended", saga: runningSuspended,
			argo: "Suspended", message: "Running, blocked (ParticipantSuspended): {Blocked}", kstatus: status.InProgressStatus},
		{name: "Running, Suspended", saga: runningHeld,
			argo: "Suspended", message: "Running: {Suspended}", kstatus: status.InProgressStatus},
		{name: "Running, Suspended and Blocked ParticipantSuspended", saga: runningHeldAndBlocked,
			argo: "Suspended", message: "Running: {Suspended}", kstatus: status.InProgressStatus},
		{name: "Compensating, Suspended", saga: compensatingHeld,
			argo: "Suspended", message: "Compensating: {Suspended}", kstatus: status.InProgressStatus},
		{name: "Running, Blocked ParticipantNotRegistered", saga: runningNotRegistered,
			argo: "Degraded", message: "Running, blocked (ParticipantNotRegistered): {Blocked}", kstatus: status.InProgressStatus},
		{name: "Running, Blocked CommandNotDeclared", saga: runningNotDeclared,
			argo: "Degraded", message: "Running, blocked (CommandNotDeclared): {Blocked}", kstatus: status.InProgressStatus},

		{name: "Compensating", saga: compensating,
			argo: "Progressing", message: "Compensating: {Reconciling}", kstatus: status.InProgressStatus},
		{name: "Compensating, Blocked ParticipantSuspended", saga: compensatingSuspended,
			argo: "Suspended", message: "Compensating, blocked (ParticipantSuspended): {Blocked}", kstatus: status.InProgressStatus},
		{name: "Compensating after a manual retry", saga: compensatingRetried,
			argo: "Progressing", message: "Compensating: {Reconciling}", kstatus: status.InProgressStatus},

		{name: "Completed", saga: completed,
			argo: "Healthy", message: "Completed: {Ready}", kstatus: status.CurrentStatus},
		{name: "Completed, retired", saga: completed, edit: retired,
			argo: "Healthy", message: "Completed: {Ready}", kstatus: status.CurrentStatus},
		// Stalled: kstatus reports Failed, so that nothing waits for a
		// Ready that never comes; Argo CD sees a settled saga.
		{name: "Compensated", saga: compensated,
			argo: "Healthy", message: "Compensated: {Ready}", kstatus: status.FailedStatus},
		{name: "Failed", saga: failed,
			argo: "Degraded", message: "Failed: {Ready}", kstatus: status.FailedStatus},

		// A spec edit not observed yet: both wait for the operator.
		{name: "Running, spec edited", saga: running, edit: specEdited,
			argo: "Progressing", message: "Waiting for the operator to observe generation 2", kstatus: status.InProgressStatus},
		{name: "Completed, spec edited", saga: completed, edit: specEdited,
			argo: "Progressing", message: "Waiting for the operator to observe generation 2", kstatus: status.InProgressStatus},
		{name: "Failed, spec edited", saga: failed, edit: specEdited,
			argo: "Progressing", message: "Waiting for the operator to observe generation 2", kstatus: status.InProgressStatus},
		// The operator never looks at a retired saga again: Argo CD keeps
		// its health; kstatus waits for ever.
		{name: "Completed, retired, then spec edited", saga: completed, edit: retiredThenEdited,
			argo: "Healthy", message: "Completed: {Ready}", kstatus: status.InProgressStatus},
		{name: "Compensated, retired, then spec edited", saga: compensated, edit: retiredThenEdited,
			argo: "Healthy", message: "Compensated: {Ready}", kstatus: status.InProgressStatus},

		// Argo CD reports a deleted object before it runs any check.
		{name: "Running, deleted", saga: running, edit: deleted,
			argo: "Progressing", message: "Pending deletion", kstatus: status.TerminatingStatus},
		{name: "Failed, deleted", saga: failed, edit: deleted,
			argo: "Progressing", message: "Pending deletion", kstatus: status.TerminatingStatus},

		// Statuses the operator does not write, for a defensive check.
		{name: "status without a phase", saga: with(fresh, func(st *ordersv1alpha1.OrderSagaStatus) { st.ObservedGeneration = 1 }),
			argo: "Progressing", message: "Waiting for the operator", kstatus: status.CurrentStatus},
		{name: "status without observedGeneration", saga: with(running, func(st *ordersv1alpha1.OrderSagaStatus) { st.ObservedGeneration = 0 }),
			argo: "Progressing", message: "Waiting for the operator to observe generation 1", kstatus: status.InProgressStatus},
		{name: "Running, Blocked False", saga: with(running, func(st *ordersv1alpha1.OrderSagaStatus) {
			setCondition(st, ordersv1alpha1.ConditionBlocked, metav1.ConditionFalse, "Unblocked", "")
		}), argo: "Progressing", message: "Running: {Reconciling}", kstatus: status.InProgressStatus},
		{name: "Running, Blocked for a reason this check does not know", saga: with(running, func(st *ordersv1alpha1.OrderSagaStatus) {
			setCondition(st, ordersv1alpha1.ConditionBlocked, metav1.ConditionTrue, "SomethingNew", "Step waits for something new")
		}), argo: "Progressing", message: "Running, blocked (SomethingNew): {Blocked}", kstatus: status.InProgressStatus},
		// A reply may finish a held saga: finished, it has nothing left to hold.
		{name: "Completed, Suspended left True", saga: with(completed, func(st *ordersv1alpha1.OrderSagaStatus) {
			setCondition(st, ordersv1alpha1.ConditionSuspended, metav1.ConditionTrue, ordersv1alpha1.ReasonSuspended, "held")
		}), argo: "Healthy", message: "Completed: {Ready}", kstatus: status.CurrentStatus},
		{name: "Completed without conditions", saga: with(completed, func(st *ordersv1alpha1.OrderSagaStatus) { st.Conditions = nil }),
			argo: "Healthy", message: "Completed: every step succeeded", kstatus: status.CurrentStatus},
		{name: "unknown phase, Reconciling", saga: with(running, func(st *ordersv1alpha1.OrderSagaStatus) { st.Phase = "Paused" }),
			argo: "Progressing", message: "Paused: {Reconciling}", kstatus: status.InProgressStatus},
		{name: "unknown phase, Stalled", saga: with(failed, func(st *ordersv1alpha1.OrderSagaStatus) { st.Phase = "Abandoned" }),
			argo: "Degraded", message: "Abandoned: {Stalled}", kstatus: status.FailedStatus},
		{name: "unknown phase, Ready", saga: with(completed, func(st *ordersv1alpha1.OrderSagaStatus) { st.Phase = "Archived" }),
			argo: "Healthy", message: "Archived: {Ready}", kstatus: status.CurrentStatus},
		{name: "unknown phase, no conditions", saga: with(running, func(st *ordersv1alpha1.OrderSagaStatus) {
			st.Phase, st.Conditions = "Paused", nil
		}), argo: "Unknown", message: "Unknown phase Paused", kstatus: status.CurrentStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.saga(t)
			u := toUnstructured(t, s)
			if tt.edit != nil {
				tt.edit(u)
			}
			want := argoHealth{Status: tt.argo, Message: expand(t, tt.message, s)}
			got := argoCD(t, script, u)
			if got != want {
				t.Errorf("Argo CD health %+v, want %+v", got, want)
			}
			res, err := status.Compute(u)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.kstatus {
				t.Errorf("kstatus %s (%s), want %s", res.Status, res.Message, tt.kstatus)
			}
		})
	}
}

// TestHealthCoversEveryPhaseAndBlockedReason keeps TestHealth's table
// complete as phases and reasons are added.
func TestHealthCoversEveryPhaseAndBlockedReason(t *testing.T) {
	phases := map[ordersv1alpha1.SagaPhase]bool{}
	reasons := map[string]bool{}
	held := false
	for _, build := range []func(*testing.T) *ordersv1alpha1.OrderSaga{
		pending, pendingBrokerDown, pendingNoTemplate, running, runningBrokerDown, runningSuspended,
		runningNotRegistered, runningNotDeclared, compensating, compensatingSuspended, compensatingRetried,
		runningHeld, compensatingHeld,
		completed, compensated, failed,
	} {
		s := build(t)
		phases[s.Status.Phase] = true
		if c := meta.FindStatusCondition(s.Status.Conditions, ordersv1alpha1.ConditionBlocked); c != nil {
			reasons[c.Reason] = true
		}
		held = held || meta.IsStatusConditionTrue(s.Status.Conditions, ordersv1alpha1.ConditionSuspended)
	}
	for _, p := range []ordersv1alpha1.SagaPhase{ordersv1alpha1.PhasePending, ordersv1alpha1.PhaseRunning,
		ordersv1alpha1.PhaseCompensating, ordersv1alpha1.PhaseCompleted, ordersv1alpha1.PhaseCompensated,
		ordersv1alpha1.PhaseFailed} {
		if !phases[p] {
			t.Errorf("no saga of the table is %s", p)
		}
	}
	for _, r := range []string{ordersv1alpha1.ReasonParticipantNotRegistered, ordersv1alpha1.ReasonCommandNotDeclared,
		ordersv1alpha1.ReasonParticipantSuspended, ordersv1alpha1.ReasonBrokerUnavailable,
		ordersv1alpha1.ReasonTemplateNotFound} {
		if !reasons[r] {
			t.Errorf("no saga of the table is Blocked with reason %s", r)
		}
	}
	if !held {
		t.Error("no saga of the table is Suspended")
	}
}

// argoCD is the health Argo CD gives u: "Pending deletion" for an object
// being deleted, without running the check (gitops-engine's
// GetResourceHealth), else the check's.
func argoCD(t *testing.T, script string, u *unstructured.Unstructured) argoHealth {
	t.Helper()
	if u.GetDeletionTimestamp() != nil {
		return argoHealth{Status: "Progressing", Message: "Pending deletion"}
	}
	return runScript(t, script, u.Object)
}

func toUnstructured(t *testing.T, s *ordersv1alpha1.OrderSaga) *unstructured.Unstructured {
	t.Helper()
	s = s.DeepCopy()
	s.APIVersion, s.Kind = ordersv1alpha1.GroupVersion.String(), "OrderSaga"
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: obj}
}

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

// expand replaces {Type} in message with the message of s's condition Type.
func expand(t *testing.T, message string, s *ordersv1alpha1.OrderSaga) string {
	t.Helper()
	return placeholder.ReplaceAllStringFunc(message, func(m string) string {
		c := meta.FindStatusCondition(s.Status.Conditions, m[1:len(m)-1])
		if c == nil || c.Message == "" {
			t.Fatalf("the saga has no message on condition %s", m)
		}
		return c.Message
	})
}
