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

	"k8s.io/apimachinery/pkg/api/equality"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// FuzzReplyHandling throws arbitrary replies at a saga in the middle of its
// run. Whatever comes, the machine never panics; a reply it does not apply
// changes nothing; one it applies answers the message the step awaited; and
// no attempt counter goes back.
func FuzzReplyHandling(f *testing.F) {
	f.Add(uint8(0), "charge-payment", "command", int32(0), int32(1), "succeeded", "", true)
	f.Add(uint8(1), "reserve-inventory", "command", int32(0), int32(1), "failed", "Late", true)
	f.Add(uint8(2), "charge-payment", "compensation", int32(0), int32(1), "retryable", "Busy", true)
	f.Add(uint8(3), "schedule-shipment", "command", int32(0), int32(1), "succeeded", "", false)
	f.Add(uint8(0), "charge-payment", "command", int32(1), int32(7), "failed", "x y", true)
	f.Add(uint8(4), "", "", int32(-1), int32(0), "", "", false)
	f.Add(uint8(5), "reserve-inventory", "command", int32(0), int32(1), "succeeded", "", true)
	f.Fuzz(func(t *testing.T, stage uint8, step, kind string, round, attempt int32, status, reason string, consistent bool) {
		h := newHarness(t)
		h.tick()
		// Bring the saga to one of a few stages.
		switch stage % 6 {
		case 1:
			h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
		case 2:
			h.replyTo(reserve, protocol.StatusSucceeded, "", nil)
			h.replyTo(charge, protocol.StatusFailed, "CardDeclined", nil)
		case 3:
			h.replyTo(reserve, protocol.StatusRetryable, "Busy", nil)
		case 4:
			h.at(10 * time.Second)
		case 5:
			h.replyTo(reserve, protocol.StatusRetryable, "Busy", nil)
			h.pauseAt(0, 5*time.Second) // the broker is gone: replies still apply
		}
		before := h.saga.Status.DeepCopy()
		correlation := "00000000-0000-0000-0000-000000000000"
		if consistent {
			correlation = protocol.MessageID(string(h.saga.UID), step, protocol.Kind(kind), round, attempt)
		}
		ev := ReplyReceived{
			Headers: protocol.Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: string(h.saga.UID),
				Step: step, Kind: protocol.Kind(kind), Round: round, Attempt: attempt},
			CorrelationID: correlation,
			Reply:         protocol.Reply{Status: protocol.Status(status), Reason: reason},
		}
		out := h.m.Apply(h.saga, h.now, ev)
		if out.Verdict != Applied {
			if !equality.Semantic.DeepEqual(before, &h.saga.Status) {
				t.Fatalf("a %s reply changed the status", out.Verdict)
			}
			return
		}
		var awaited string
		for _, rec := range before.Steps {
			if rec.Name == step {
				awaited = rec.MessageID
			}
		}
		if correlation != awaited {
			t.Fatalf("applied a reply to %s while step %s awaited %s", correlation, step, awaited)
		}
		for i, rec := range h.saga.Status.Steps {
			if rec.Attempts < before.Steps[i].Attempts || rec.CompensationAttempts < before.Steps[i].CompensationAttempts {
				t.Fatalf("step %s: attempts went back", rec.Name)
			}
		}
		if !validPhase(h.saga.Status.Phase) {
			t.Fatalf("phase %q", h.saga.Status.Phase)
		}
	})
}

func validPhase(p ordersv1alpha1.SagaPhase) bool {
	switch p {
	case ordersv1alpha1.PhasePending, ordersv1alpha1.PhaseRunning, ordersv1alpha1.PhaseCompensating,
		ordersv1alpha1.PhaseCompleted, ordersv1alpha1.PhaseCompensated, ordersv1alpha1.PhaseFailed:
		return true
	}
	return false
}
