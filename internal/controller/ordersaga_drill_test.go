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
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// recorded drains the Events recorded so far, as "type reason note".
func (h *harness) recorded() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestADrilledCommandIsNeverPublishedAndTheStepsBeforeItAreCompensated(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-drill", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Drill = ordersv1alpha1.DrillFail })
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	g.Expect(h.get(t, keyOf(s)).Status.Drill).To(BeTrue(), "marked by the write that starts it")

	h.reply(t, h.publisher.messages()[0], protocol.StatusSucceeded, &fakeAcknowledger{}, 1)
	h.reconcile(t, keyOf(s))

	got := h.get(t, keyOf(s))
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhaseCompensating))
	g.Expect(got.Status.Steps[1].State).To(Equal(ordersv1alpha1.StepFailed))
	g.Expect(got.Status.Steps[1].Reason).To(Equal(ordersv1alpha1.StepReasonDrill))
	g.Expect(got.Status.Steps[1].MessageID).To(BeEmpty())
	g.Expect(sentKeys(h.publisher.messages())).To(Equal([]string{"inventory.ReserveInventory", "inventory.ReleaseInventory"}),
		"the compensation goes for real; the drilled ChargePayment never")
	g.Expect(h.recorded()).To(ContainElement(
		"Normal StepDrilled Step charge-payment: Step charge-payment failed on purpose (drill): its command was not sent"))

	h.r.published = newPublishedSet() // a restart: whatever is in flight goes again, never the drilled command
	h.reply(t, h.publisher.messages()[1], protocol.StatusSucceeded, &fakeAcknowledger{}, 2)
	h.reconcile(t, keyOf(s))

	got = h.get(t, keyOf(s))
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhaseCompensated))
	g.Expect(sentKeys(h.publisher.messages())).NotTo(ContainElement("payment.ChargePayment"))
	g.Expect(h.reasons()).To(ContainElements("StepDrilled", "CompensationStarted", "Compensated"))

	// The lifecycle events say drill, so that their consumers can leave it out.
	events := h.publisher.events()
	g.Expect(events).NotTo(BeEmpty())
	types := make([]string, 0, len(events))
	for _, m := range events {
		var ev protocol.Event
		g.Expect(json.Unmarshal(m.Message.Body, &ev)).To(Succeed())
		g.Expect(ev.Drill).To(BeTrue(), "event %s", ev.Type)
		types = append(types, string(ev.Type)+"/"+ev.Reason)
	}
	g.Expect(types).To(ContainElement(string(protocol.EventStepFailed) + "/StepDrilled"))
}
