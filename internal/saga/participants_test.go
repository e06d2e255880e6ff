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
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// registered is the registry of the sample saga's three services, each
// declaring the commands and compensations the sample names, replying as
// "svc-<service>", and admitting the saga's namespace.
func registered() Participants {
	p := func(user string, commands, compensations []string) Participant {
		spec := ordersv1alpha1.ParticipantSpec{BrokerUser: user}
		for _, c := range commands {
			spec.Commands = append(spec.Commands, ordersv1alpha1.ParticipantCommand{Name: c})
		}
		for _, c := range compensations {
			spec.Compensations = append(spec.Compensations, ordersv1alpha1.ParticipantCommand{Name: c})
		}
		return Participant{Spec: spec, Admitted: true}
	}
	return Participants{
		"inventory": p("svc-inventory", []string{"ReserveInventory"}, []string{"ReleaseInventory"}),
		"payment":   p("svc-payment", []string{"ChargePayment"}, []string{"RefundPayment"}),
		"shipping":  p("svc-shipping", []string{"ScheduleShipment"}, nil),
	}
}

func (h *harness) blocked() *metav1.Condition {
	return meta.FindStatusCondition(h.saga.Status.Conditions, ordersv1alpha1.ConditionBlocked)
}

func TestAStepWaitsForItsParticipant(t *testing.T) {
	tests := []struct {
		name   string
		change func(Participants)
		reason string
	}{
		{name: "not registered", change: func(p Participants) { delete(p, "inventory") },
			reason: ordersv1alpha1.ReasonParticipantNotRegistered},
		{name: "command not declared", change: func(p Participants) {
			inv := p["inventory"]
			inv.Spec.Commands = []ordersv1alpha1.ParticipantCommand{{Name: "CountStock"}}
			p["inventory"] = inv
		}, reason: ordersv1alpha1.ReasonCommandNotDeclared},
		{name: "suspended", change: func(p Participants) {
			inv := p["inventory"]
			inv.Spec.Suspend = true
			p["inventory"] = inv
		}, reason: ordersv1alpha1.ReasonParticipantSuspended},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.m.Participants = registered()
			tt.change(h.m.Participants)

			out := h.tick()

			h.expectPhase(ordersv1alpha1.PhaseRunning)
			h.expectStates(pending, pending, pending)
			if len(out.Dispatches) != 0 {
				t.Fatalf("sent %+v to a participant that cannot take it", out.Dispatches)
			}
			if c := h.blocked(); c == nil || c.Status != metav1.ConditionTrue || c.Reason != tt.reason {
				t.Fatalf("Blocked condition %+v, want True with reason %s", c, tt.reason)
			}
			if !out.RequeueAt.IsZero() {
				t.Fatalf("requeue at %v: a blocked step has no timer, its participant's change wakes it", out.RequeueAt)
			}
			if got := h.reasons(); got[len(got)-1] != "StepBlocked(reserve-inventory)" {
				t.Fatalf("transitions %v, want StepBlocked last", got)
			}
			h.now = t0.Add(time.Minute)
			if out := h.tick(); len(out.Transitions) != 0 {
				t.Fatalf("the same wait told again: %+v", out.Transitions)
			}

			h.m.Participants = registered() // registered, declared, resumed
			h.now = t0.Add(2 * time.Minute)
			if out := h.tick(); len(out.Dispatches) != 1 {
				t.Fatalf("want the command sent once the participant can take it, got %+v", out.Dispatches)
			}
			h.expectStates(running, pending, pending)
			if c := h.blocked(); c != nil {
				t.Fatalf("Blocked condition %+v left after the wait", c)
			}
		})
	}
}

func TestABlockedSagaStillPassesItsDeadline(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) { s.Spec.Deadline = "1m" })
	h.m.Participants = registered()
	delete(h.m.Participants, "inventory")
	if out := h.tick(); !out.RequeueAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("requeue at %v, want the deadline t0+1m", out.RequeueAt)
	}
	h.at(time.Minute)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
	if c := h.blocked(); c != nil {
		t.Fatalf("Blocked condition %+v left on a finished saga", c)
	}
}

func TestANamespaceTheParticipantDoesNotAdmit(t *testing.T) {
	t.Run("fails the saga before any command", func(t *testing.T) {
		h := newHarness(t)
		h.m.Participants = registered()
		pay := h.m.Participants["payment"]
		pay.Admitted = false
		h.m.Participants["payment"] = pay

		out := h.tick()

		h.expectPhase(ordersv1alpha1.PhaseCompensated)
		h.expectStates(skipped, skipped, skipped)
		if len(out.Dispatches) != 0 {
			t.Fatalf("sent %+v", out.Dispatches)
		}
		c := meta.FindStatusCondition(h.saga.Status.Conditions, ordersv1alpha1.ConditionCompensating)
		if c == nil || c.Reason != ordersv1alpha1.ReasonNamespaceNotAdmitted {
			t.Fatalf("Compensating condition %+v, want reason NamespaceNotAdmitted", c)
		}
		if got := h.reasons(); len(got) != 1 || got[0] != string(ordersv1alpha1.TransitionNamespaceNotAdmitted) {
			t.Fatalf("transitions %v, want NamespaceNotAdmitted alone", got)
		}
	})
	t.Run("registered after the saga started: what was done is compensated", func(t *testing.T) {
		h := newHarness(t)
		h.m.Participants = registered()
		delete(h.m.Participants, "payment")
		h.tick()
		h.replyTo(reserve, protocol.StatusSucceeded, "", nil) // payment then waits: not registered
		h.m.Participants = registered()
		pay := h.m.Participants["payment"]
		pay.Admitted = false
		h.m.Participants["payment"] = pay

		h.at(time.Second)

		h.expectPhase(ordersv1alpha1.PhaseCompensating)
		h.expectStates(compensating, skipped, skipped)
	})
}

func TestRepliesComeFromTheRegisteredBrokerUser(t *testing.T) {
	h := newHarness(t)
	h.m.Participants = registered()
	h.tick()
	reply := func(user string) Verdict {
		return h.apply(ReplyReceived{
			Headers: protocol.Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: "uid-1",
				Step: reserve, Kind: protocol.KindCommand, Attempt: 1},
			CorrelationID: h.record(reserve).MessageID, UserID: user,
			Reply: protocol.Reply{Status: protocol.StatusSucceeded},
		}).Verdict
	}
	for _, user := range []string{"svc-payment", "", "guest"} {
		if v := reply(user); v != Unauthenticated {
			t.Fatalf("a reply from user %q for an inventory step: verdict %s, want Unauthenticated", user, v)
		}
	}
	h.expectStates(running, pending, pending)
	if v := reply("svc-inventory"); v != Applied {
		t.Fatalf("a reply from the inventory service's user: verdict %s", v)
	}
}

func TestParticipantDefaultsApplyToStepsThatSetNone(t *testing.T) {
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) {
		s.Spec.Steps[0].Timeout = ""
		s.Spec.Steps[0].Retry = ordersv1alpha1.RetryPolicy{}
	})
	h.m.Participants = registered()
	inv := h.m.Participants["inventory"]
	inv.Spec.Commands[0].Timeout = "4s"
	inv.Spec.Commands[0].Retry = &ordersv1alpha1.RetryPolicy{MaxAttempts: 1}
	h.m.Participants["inventory"] = inv

	h.tick()
	if due := h.record(reserve).TimeoutAt.Time; !due.Equal(t0.Add(4 * time.Second)) {
		t.Fatalf("timeoutAt %v, want the participant's 4s", due)
	}
	h.at(4 * time.Second)
	// One attempt only, by the participant's policy: the step times out
	// and the saga compensates it.
	h.expectPhase(ordersv1alpha1.PhaseCompensating)
	if rec := h.record(reserve); rec.State != compensating || rec.Attempts != 1 {
		t.Fatalf("record %+v, want the step compensating after 1 attempt", rec)
	}

	// A step's own settings win.
	h2 := newHarness(t)
	h2.m.Participants = h.m.Participants
	h2.tick()
	if due := h2.record(reserve).TimeoutAt.Time; !due.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("timeoutAt %v, want the step's own 10s", due)
	}
}
