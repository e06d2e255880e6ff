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
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// harness drives one saga through the machine with a fake clock and keeps
// every outcome, so that tests read like the saga's history.
type harness struct {
	t       *testing.T
	m       Machine
	saga    *ordersv1alpha1.OrderSaga
	now     time.Time
	last    applied
	history []Transition
	sent    []Dispatch
}

// applied is an Outcome with the messages it made due: those InFlight
// lists after the event and did not list before.
type applied struct {
	Outcome
	Dispatches []Dispatch
}

// newHarness builds the three-step sample saga (inventory, payment with
// compensations; shipping without) with timeouts of 10s and 3 attempts, and
// jitter fixed at 0 so that backoff is exactly half its nominal value.
func newHarness(t *testing.T, mutate ...func(*ordersv1alpha1.OrderSaga)) *harness {
	t.Helper()
	saga := fixtures.NewSaga("shop", "order-1")
	saga.UID = "uid-1"
	saga.Generation = 1
	for i := range saga.Spec.Steps {
		saga.Spec.Steps[i].Timeout = "10s"
		saga.Spec.Steps[i].Retry = ordersv1alpha1.RetryPolicy{MaxAttempts: 3, InitialDelay: "2s", Factor: 2, MaxDelay: "1m"}
	}
	for _, f := range mutate {
		f(saga)
	}
	return &harness{t: t, m: Machine{Jitter: func() float64 { return 0 }}, saga: saga, now: t0}
}

func (h *harness) apply(ev Event) applied {
	h.t.Helper()
	before := map[string]bool{}
	for _, d := range InFlight(h.saga) {
		before[d.MessageID] = true
	}
	h.last = applied{Outcome: h.m.Apply(h.saga, h.now, ev)}
	for _, d := range InFlight(h.saga) {
		if !before[d.MessageID] {
			h.last.Dispatches = append(h.last.Dispatches, d)
		}
	}
	h.history = append(h.history, h.last.Transitions...)
	h.sent = append(h.sent, h.last.Dispatches...)
	return h.last
}

func (h *harness) tick() applied { h.t.Helper(); return h.apply(Tick{}) }

// at moves the clock to t0+d and ticks.
func (h *harness) at(d time.Duration) applied {
	h.t.Helper()
	h.now = t0.Add(d)
	return h.tick()
}

// pauseAt moves the clock to t0+at and pauses the timers since t0+since,
// as the controller does while the broker is disconnected (instead of a
// Tick).
func (h *harness) pauseAt(since, at time.Duration) applied {
	h.t.Helper()
	h.now = t0.Add(at)
	return h.apply(PauseTimers{Since: t0.Add(since)})
}

// resumeAt moves the clock to t0+d and resumes the timers, then ticks, as
// the controller does once the broker is connected again.
func (h *harness) resumeAt(d time.Duration) applied {
	h.t.Helper()
	h.now = t0.Add(d)
	h.apply(ResumeTimers{})
	return h.tick()
}

// replyTo builds the reply a participant would send to the last message of
// step, with the given status, and applies it followed by a Tick, as the
// controller does.
func (h *harness) replyTo(step string, status protocol.Status, reason string, result protocol.Result) Verdict {
	h.t.Helper()
	return h.replyThen(Tick{}, step, status, reason, result)
}

// replyWhilePaused is replyTo while the broker is disconnected: the
// controller applies PauseTimers where it would apply a Tick.
func (h *harness) replyWhilePaused(step string, status protocol.Status, reason string) Verdict {
	h.t.Helper()
	return h.replyThen(PauseTimers{}, step, status, reason, nil)
}

func (h *harness) replyThen(next Event, step string, status protocol.Status, reason string, result protocol.Result) Verdict {
	h.t.Helper()
	rec := h.record(step)
	kind, attempt := protocol.KindCommand, rec.Attempts
	if rec.State == ordersv1alpha1.StepCompensating {
		kind, attempt = protocol.KindCompensation, rec.CompensationAttempts
	}
	v := h.replyAttempt(step, kind, h.saga.Status.RetryRound, attempt, status, reason, result)
	h.apply(next)
	return v
}

func (h *harness) replyAttempt(step string, kind protocol.Kind, round, attempt int32, status protocol.Status, reason string, result protocol.Result) Verdict {
	h.t.Helper()
	ev := ReplyReceived{
		Headers: protocol.Headers{SagaNamespace: h.saga.Namespace, SagaName: h.saga.Name, SagaUID: string(h.saga.UID),
			Step: step, Kind: kind, Round: round, Attempt: attempt},
		CorrelationID: protocol.MessageID(string(h.saga.UID), step, kind, round, attempt),
		UserID:        h.brokerUser(step),
		Reply:         protocol.Reply{Status: status, Reason: reason, Message: "from the participant", Result: result},
	}
	return h.apply(ev).Verdict
}

// brokerUser is the user the participant of step replies as: the one its
// Participant registers, if the harness has a registry.
func (h *harness) brokerUser(step string) string {
	for _, s := range h.saga.Spec.Steps {
		if s.Name == step {
			return h.m.Participants[s.Service].Spec.BrokerUser
		}
	}
	return ""
}

func (h *harness) record(step string) ordersv1alpha1.StepStatus {
	h.t.Helper()
	for _, rec := range h.saga.Status.Steps {
		if rec.Name == step {
			return rec
		}
	}
	h.t.Fatalf("no record for step %s", step)
	return ordersv1alpha1.StepStatus{}
}

func (h *harness) expectPhase(want ordersv1alpha1.SagaPhase) {
	h.t.Helper()
	if got := h.saga.Status.Phase; got != want {
		h.t.Fatalf("phase %s, want %s; history: %s", got, want, h.reasons())
	}
}

func (h *harness) expectStates(want ...ordersv1alpha1.StepState) {
	h.t.Helper()
	for i, rec := range h.saga.Status.Steps {
		if rec.State != want[i] {
			h.t.Fatalf("step %s is %s, want %s; history: %s", rec.Name, rec.State, want[i], h.reasons())
		}
	}
}

func (h *harness) expectCondition(condType string, status metav1.ConditionStatus, reason string) {
	h.t.Helper()
	c := meta.FindStatusCondition(h.saga.Status.Conditions, condType)
	if c == nil || c.Status != status || c.Reason != reason {
		h.t.Fatalf("condition %s = %+v, want %s/%s", condType, c, status, reason)
	}
}

func (h *harness) expectNoCondition(condType string) {
	h.t.Helper()
	if c := meta.FindStatusCondition(h.saga.Status.Conditions, condType); c != nil {
		h.t.Fatalf("condition %s present: %+v", condType, c)
	}
}

// sentSummary renders the dispatches so far as "step/kind#attempt".
func (h *harness) sentSummary() []string {
	out := make([]string, len(h.sent))
	for i, d := range h.sent {
		out[i] = fmt.Sprintf("%s/%s#%d", d.Step, d.Kind, d.Attempt)
	}
	return out
}

func (h *harness) reasons() []string {
	out := make([]string, len(h.history))
	for i, tr := range h.history {
		out[i] = string(tr.Reason)
		if tr.Step != "" {
			out[i] += "(" + tr.Step + ")"
		}
	}
	return out
}
