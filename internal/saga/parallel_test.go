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
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// parallelSteps replaces the sample's steps with steps a, b, c, d, each
// with a compensation, running after the steps runAfter gives (nil: the
// step before).
func parallelSteps(runAfter ...[]string) func(*ordersv1alpha1.OrderSaga) {
	return func(s *ordersv1alpha1.OrderSaga) {
		template := s.Spec.Steps[0]
		s.Spec.Steps = nil
		for i, after := range runAfter {
			step := template
			step.Name = string(rune('a' + i))
			step.Service = "svc-" + step.Name
			step.Command = ordersv1alpha1.Command{Name: "Do"}
			step.Compensation = &ordersv1alpha1.Command{Name: "Undo"}
			step.RunAfter = after
			s.Spec.Steps = append(s.Spec.Steps, step)
		}
	}
}

// diamond: a; b and c after a; d after b and c.
var diamond = parallelSteps(nil, []string{"a"}, []string{"a"}, []string{"b", "c"})

func steps(ds []Dispatch) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Step+"/"+string(d.Kind))
	}
	return out
}

func expectSent(t *testing.T, got []Dispatch, want ...string) {
	t.Helper()
	if !slices.Equal(steps(got), want) {
		t.Fatalf("sent %v, want %v", steps(got), want)
	}
}

func TestDiamondRunsIndependentStepsTogether(t *testing.T) {
	h := newHarness(t, diamond)
	expectSent(t, h.tick().Dispatches, "a/command")
	h.now = t0.Add(time.Second)
	h.replyTo("a", protocol.StatusSucceeded, "", nil)
	expectSent(t, h.last.Dispatches, "b/command", "c/command")
	h.expectStates(succeeded, running, running, pending)
	if h.saga.Status.CurrentStep != "b" {
		t.Fatalf("currentStep %q, want the first running step b", h.saga.Status.CurrentStep)
	}
	if n := len(InFlight(h.saga)); n != 2 {
		t.Fatalf("InFlight lists %d messages, want b's and c's", n)
	}

	h.replyTo("c", protocol.StatusSucceeded, "", nil)
	expectSent(t, h.last.Dispatches) // d waits for b too
	h.expectStates(succeeded, running, succeeded, pending)
	h.replyTo("b", protocol.StatusSucceeded, "", nil)
	expectSent(t, h.last.Dispatches, "d/command")
	h.replyTo("d", protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompleted)
}

func TestFailureWaitsForStepsInFlightThenCompensatesInReverseCompletionOrder(t *testing.T) {
	h := newHarness(t, diamond)
	h.tick()
	h.now = t0.Add(time.Second)
	h.replyTo("a", protocol.StatusSucceeded, "", nil)
	h.now = t0.Add(2 * time.Second)
	h.replyTo("c", protocol.StatusFailed, "OutOfStock", nil)

	// No new step, no compensation while b's command is in flight.
	h.expectPhase(ordersv1alpha1.PhaseCompensating)
	h.expectStates(succeeded, running, failed, skipped)
	expectSent(t, h.last.Dispatches)
	if got := steps(InFlight(h.saga)); !slices.Equal(got, []string{"b/command"}) {
		t.Fatalf("in flight %v, want b's command", got)
	}
	if want := t0.Add(time.Second + 10*time.Second); !h.last.RequeueAt.Equal(want) {
		t.Fatalf("requeue at %s, want b's timeout %s", h.last.RequeueAt, want)
	}

	// b then succeeds: it completed last, so it is undone first, then a.
	h.now = t0.Add(3 * time.Second)
	h.replyTo("b", protocol.StatusSucceeded, "", nil)
	expectSent(t, h.last.Dispatches, "b/compensation")
	h.replyTo("b", protocol.StatusSucceeded, "", nil)
	expectSent(t, h.last.Dispatches, "a/compensation")
	h.replyTo("a", protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
	h.expectStates(compensated, compensated, failed, skipped)
}

func TestCompensationFollowsCompletionOrderNotSpecOrder(t *testing.T) {
	// a, b and c at the start; d after all three.
	h := newHarness(t, parallelSteps([]string{}, []string{}, []string{}, []string{"a", "b", "c"}))
	expectSent(t, h.tick().Dispatches, "a/command", "b/command", "c/command")
	h.now = t0.Add(time.Second)
	h.replyTo("c", protocol.StatusSucceeded, "", nil)
	h.now = t0.Add(2 * time.Second)
	h.replyTo("a", protocol.StatusSucceeded, "", nil)
	h.now = t0.Add(3 * time.Second)
	h.replyTo("b", protocol.StatusFailed, "CardDeclined", nil)

	expectSent(t, h.sent[len(h.sent)-1:], "a/compensation") // a completed after c
	h.replyTo("a", protocol.StatusSucceeded, "", nil)
	expectSent(t, h.last.Dispatches, "c/compensation")
	h.replyTo("c", protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)
	h.expectStates(compensated, failed, compensated, skipped)
}

func TestStepInFlightThatTimesOutAfterAFailureIsCompensated(t *testing.T) {
	h := newHarness(t, diamond)
	h.tick()
	h.replyTo("a", protocol.StatusSucceeded, "", nil)
	h.replyTo("c", protocol.StatusFailed, "OutOfStock", nil)
	h.expectStates(succeeded, running, failed, skipped)

	// b's reply never comes: no retry is sent, b is compensated in case it
	// took effect, then a.
	expectSent(t, h.at(10*time.Second).Dispatches, "b/compensation")
	h.expectStates(succeeded, compensating, failed, skipped)
	if h.record("b").Attempts != 1 {
		t.Fatalf("b was retried after the failure: %+v", h.record("b"))
	}
	h.replyTo("b", protocol.StatusSucceeded, "", nil)
	expectSent(t, h.last.Dispatches, "a/compensation")
}

func TestRetryableReplyAfterAFailureIsNotRetried(t *testing.T) {
	h := newHarness(t, diamond)
	h.tick()
	h.replyTo("a", protocol.StatusSucceeded, "", nil)
	h.replyTo("c", protocol.StatusFailed, "OutOfStock", nil)
	h.replyTo("b", protocol.StatusRetryable, "Busy", nil)
	h.expectStates(succeeded, compensating, failed, skipped)
	if h.record("b").Attempts != 1 {
		t.Fatalf("b was retried after the failure: %+v", h.record("b"))
	}
	expectSent(t, h.last.Dispatches, "b/compensation")
}

func TestRunAfterEmptyStartsAtTheStart(t *testing.T) {
	// b runs at the start beside a; c, without runAfter, after b only.
	h := newHarness(t, parallelSteps(nil, []string{}, nil))
	expectSent(t, h.tick().Dispatches, "a/command", "b/command")
	h.replyTo("b", protocol.StatusSucceeded, "", nil)
	expectSent(t, h.last.Dispatches, "c/command")
	h.replyTo("c", protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseRunning)
	h.replyTo("a", protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompleted)
}

func TestCancelInterruptsEveryStepInFlight(t *testing.T) {
	h := newHarness(t, diamond)
	h.tick()
	h.now = t0.Add(time.Second)
	h.replyTo("a", protocol.StatusSucceeded, "", nil)
	h.apply(Cancel{Reason: ordersv1alpha1.ReasonCancelled})
	// b and c are interrupted at the same instant: reverse spec order, then a.
	h.expectStates(succeeded, interrupted, compensating, skipped)
	expectSent(t, h.last.Dispatches, "c/compensation")
	h.replyTo("c", protocol.StatusSucceeded, "", nil)
	expectSent(t, h.last.Dispatches, "b/compensation")
	h.replyTo("b", protocol.StatusSucceeded, "", nil)
	expectSent(t, h.last.Dispatches, "a/compensation")
}

func TestResumeForwardRunsAgainTheStepsAFailureSkippedBeforeTheFailedOne(t *testing.T) {
	// a; b after a; c at the start; nothing to undo. c fails while a is in
	// flight: b, listed before c, is skipped.
	h := newHarness(t, parallelSteps(nil, nil, []string{}), func(s *ordersv1alpha1.OrderSaga) {
		for i := range s.Spec.Steps {
			s.Spec.Steps[i].Compensation = nil
		}
	})
	expectSent(t, h.tick().Dispatches, "a/command", "c/command")
	h.replyTo("c", protocol.StatusFailed, "NoCarrier", nil)
	h.expectStates(running, skipped, failed)
	h.apply(request("early", ordersv1alpha1.VerbResumeForward, ""))
	h.expectPhase(ordersv1alpha1.PhaseCompensating) // refused: a's reply is awaited
	h.replyTo("a", protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompensated)

	h.apply(request("fwd", ordersv1alpha1.VerbResumeForward, ""))
	h.expectPhase(ordersv1alpha1.PhaseRunning)
	h.expectStates(succeeded, running, running)
	h.replyTo("b", protocol.StatusSucceeded, "", nil)
	h.replyTo("c", protocol.StatusSucceeded, "", nil)
	h.expectPhase(ordersv1alpha1.PhaseCompleted)
}

func TestAHeldParallelStepDoesNotHoldTheOthers(t *testing.T) {
	// All three sample steps at the start; payment is not registered.
	h := newHarness(t, func(s *ordersv1alpha1.OrderSaga) {
		for i := range s.Spec.Steps {
			s.Spec.Steps[i].RunAfter = []string{}
		}
	})
	h.m.Participants = registered()
	delete(h.m.Participants, "payment")

	expectSent(t, h.tick().Dispatches, reserve+"/command", shipment+"/command")
	if c := h.blocked(); c == nil || c.Status != "True" || c.Reason != ordersv1alpha1.ReasonParticipantNotRegistered {
		t.Fatalf("blocked condition %+v, want payment's hold kept though shipping was sent after it", c)
	}
	if want := t0.Add(10 * time.Second); !h.last.RequeueAt.Equal(want) {
		t.Fatalf("requeue at %s, want the timeout of the commands in flight %s", h.last.RequeueAt, want)
	}
}

// TestRandomParallelSagas drives sagas of random dependency graphs with
// random replies and timeouts to their end, and checks on the way that a
// command leaves only once the steps it runs after succeeded, that no
// compensation leaves while a command is in flight, and that compensations
// go in the reverse of the order the steps completed.
func TestRandomParallelSagas(t *testing.T) {
	ends := map[ordersv1alpha1.SagaPhase]int{}
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		after := randomGraph(rng)
		run := &randomRun{t: t, seed: seed, h: newHarness(t, parallelSteps(after...)), seen: map[int]bool{}}
		run.drive(rng)
		run.checkCompensationOrder(after)
		ends[run.h.saga.Status.Phase]++
	}
	if ends[ordersv1alpha1.PhaseCompleted] == 0 || ends[ordersv1alpha1.PhaseCompensated] < 20 {
		t.Fatalf("the random sagas do not cover both ends: %v", ends)
	}
	t.Logf("ends: %v", ends)
}

// randomGraph is the runAfter of 2 to 6 steps: nil (after the step before)
// or a random subset of the earlier steps.
func randomGraph(rng *rand.Rand) [][]string {
	after := make([][]string, 2+rng.IntN(5))
	for i := range after {
		if rng.IntN(3) == 0 {
			continue
		}
		after[i] = []string{}
		for j := range i {
			if rng.IntN(2) == 0 {
				after[i] = append(after[i], string(rune('a'+j)))
			}
		}
	}
	return after
}

type completion struct {
	at time.Time
	i  int
}

type randomRun struct {
	t             *testing.T
	seed          uint64
	h             *harness
	completed     []completion
	seen          map[int]bool
	compensations []int
}

// drive answers random messages in flight, or lets time pass, until the
// saga ends.
func (r *randomRun) drive(rng *rand.Rand) {
	h := r.h
	h.tick()
	r.check(0)
	for range 500 {
		if h.saga.Status.Phase.IsFinal() {
			return
		}
		from := len(h.sent)
		inflight := InFlight(h.saga)
		if len(inflight) == 0 || rng.IntN(10) == 0 {
			h.now = h.now.Add(11 * time.Second) // a timeout or a backoff passes
			h.tick()
			r.check(from)
			continue
		}
		d := inflight[rng.IntN(len(inflight))]
		status := protocol.StatusSucceeded
		switch n := rng.IntN(10); {
		case n == 0 && d.Kind == protocol.KindCommand:
			status = protocol.StatusFailed
		case n == 1:
			status = protocol.StatusRetryable
		}
		h.now = h.now.Add(time.Duration(1+rng.IntN(3)) * time.Second)
		h.replyTo(d.Step, status, "", nil)
		r.check(from)
	}
	r.t.Fatalf("seed %d: saga not finished: %s %v", r.seed, h.saga.Status.Phase, h.reasons())
}

// check checks the messages sent since from, and records the steps that
// completed.
func (r *randomRun) check(from int) {
	r.t.Helper()
	st := r.h.saga.Status
	for _, d := range r.h.sent[from:] {
		if d.Kind == protocol.KindCompensation {
			if d.Attempt == 1 {
				r.compensations = append(r.compensations, d.StepIndex)
			}
			if i := slices.IndexFunc(st.Steps, func(rec ordersv1alpha1.StepStatus) bool { return rec.State == running }); i >= 0 {
				r.t.Fatalf("seed %d: compensation of %s sent while %s's command is in flight", r.seed, d.Step, st.Steps[i].Name)
			}
			continue
		}
		for _, j := range dependencies(r.h.saga.Spec.Steps, d.StepIndex) {
			if s := st.Steps[j].State; s != succeeded {
				r.t.Fatalf("seed %d: %s sent while %s, which it runs after, is %s", r.seed, d.Step, st.Steps[j].Name, s)
			}
		}
	}
	for i, rec := range st.Steps {
		switch rec.State {
		case succeeded, interrupted, timedOut, compensating:
			// Compensating: completed and sent its compensation in the
			// same pass; completedAt is still the command's.
			if !r.seen[i] {
				r.seen[i] = true
				r.completed = append(r.completed, completion{rec.CompletedAt.Time, i})
			}
		}
	}
}

// checkCompensationOrder: compensations follow reverse completion (ties:
// reverse spec order), and a compensated saga undid every completed step.
func (r *randomRun) checkCompensationOrder(after [][]string) {
	slices.SortStableFunc(r.completed, func(a, b completion) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return b.i - a.i
	})
	var want []int
	for _, c := range r.completed {
		if slices.Contains(r.compensations, c.i) {
			want = append(want, c.i)
		} else if r.h.saga.Status.Phase == ordersv1alpha1.PhaseCompensated {
			r.t.Fatalf("seed %d: step %d completed and was not compensated", r.seed, c.i)
		}
	}
	if !slices.Equal(r.compensations, want) {
		r.t.Fatalf("seed %d: compensated %v, want %v (graph %v)", r.seed, r.compensations, want, after)
	}
}
