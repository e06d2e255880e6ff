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

package integration_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/registry"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/simparticipant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func fail(reason string) func(protocol.Command) *protocol.Reply {
	return func(protocol.Command) *protocol.Reply {
		return &protocol.Reply{Status: protocol.StatusFailed, Reason: reason, Message: "declined by the test"}
	}
}

// paymentWithID succeeds and returns a payment id, as a payment service does,
// with a number and a boolean, as a JavaScript service would.
func paymentWithID(cmd protocol.Command) *protocol.Reply {
	if cmd.Kind == protocol.KindCompensation {
		return &protocol.Reply{Status: protocol.StatusSucceeded}
	}
	return &protocol.Reply{Status: protocol.StatusSucceeded, Result: protocol.Result{
		"paymentId": protocol.String("pay-" + cmd.Order.ID), "amountCents": protocol.Int(6500), "captured": protocol.Bool(true)}}
}

var _ = Describe("An OrderSaga", func() {
	It("completes a three-step saga with at most one status write per step transition", func() {
		ns := newNamespace()
		script.set(ns, "payment", paymentWithID)
		s := createSaga(ns, "order-ok")
		done := waitForPhase(s, ordersv1alpha1.PhaseCompleted)

		Expect(sequence(done.UID)).To(Equal([]string{"ReserveInventory#1", "ChargePayment#1", "ScheduleShipment#1"}))
		Expect(stepState(done, "charge-payment").Result).To(HaveKeyWithValue("paymentId", ordersv1alpha1.ResultValue("pay-"+s.Spec.Order.ID)))
		Expect(stepState(done, "charge-payment").ResultTypes).To(Equal(map[string]ordersv1alpha1.ResultType{
			"amountCents": ordersv1alpha1.ResultNumber, "captured": ordersv1alpha1.ResultBoolean}))
		// The shipment saw the payment's result, each value with its JSON type.
		Expect(received("shipping", done.UID)[0].Command.Results).To(HaveKeyWithValue("charge-payment", Equal(protocol.Result{
			"paymentId": protocol.String("pay-" + s.Spec.Order.ID), "amountCents": protocol.Int(6500), "captured": protocol.Bool(true)})))

		// The pass announces its write after the apiserver has it: wait for
		// the last announcement, then check that nothing more comes.
		counted := func() []int { return []int{counts.statusWrites(done.UID), counts.stepTransitions(done.UID)} }
		Eventually(counted).Should(Equal([]int{4, 6}), "start, then one write per reply; 6 step transitions")
		Consistently(counted, 500*time.Millisecond).Should(Equal([]int{4, 6}))
	})

	It("compensates steps 2 and 1, in that order, when step 3 fails", func() {
		ns := newNamespace()
		script.set(ns, "payment", paymentWithID)
		script.set(ns, "shipping", fail("NoCarrier"))
		s := createSaga(ns, "order-no-carrier")
		done := waitForPhase(s, ordersv1alpha1.PhaseCompensated)

		Expect(sequence(done.UID)).To(Equal([]string{
			"ReserveInventory#1", "ChargePayment#1", "ScheduleShipment#1", "RefundPayment#1", "ReleaseInventory#1"}))
		refund := received("payment", done.UID)[1].Command
		Expect(refund.Kind).To(Equal(protocol.KindCompensation))
		Expect(refund.Results["charge-payment"]).To(HaveKeyWithValue("paymentId", protocol.String("pay-"+s.Spec.Order.ID)),
			"the refund needs the payment id")

		Expect(stepState(done, "schedule-shipment")).To(And(
			HaveField("State", ordersv1alpha1.StepFailed), HaveField("Reason", "NoCarrier")))
		Expect(stepState(done, "charge-payment").State).To(Equal(ordersv1alpha1.StepCompensated))
		Expect(stepState(done, "reserve-inventory").State).To(Equal(ordersv1alpha1.StepCompensated))
		Expect(done.Status.Conditions).To(ContainElements(
			And(HaveField("Type", ordersv1alpha1.ConditionReady), HaveField("Status", metav1.ConditionFalse),
				HaveField("Reason", ordersv1alpha1.ReasonCompensated)),
			And(HaveField("Type", ordersv1alpha1.ConditionStalled), HaveField("Status", metav1.ConditionTrue),
				HaveField("Reason", ordersv1alpha1.ReasonCompensated), HaveField("Message", ContainSubstring("NoCarrier"))),
			And(HaveField("Type", ordersv1alpha1.ConditionCompensating), HaveField("Status", metav1.ConditionFalse)),
		))
		Eventually(func(g Gomega) {
			g.Expect(eventReasons(g, done)).To(ContainElements("StepFailed", "CompensationStarted", "Compensated"))
		}).Should(Succeed())
		Expect(eventReasons(Default, done)).NotTo(ContainElement(Or(Equal("StepSucceeded"), Equal("StepCompensated"))),
			"the default --events=warnings records bad news only; the rest is in status.history")
	})

	It("retries a step that times out, then compensates it", func() {
		ns := newNamespace()
		script.set(ns, "payment", func(cmd protocol.Command) *protocol.Reply {
			if cmd.Kind == protocol.KindCommand {
				return nil // never answers the charge
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		s := createSaga(ns, "order-timeout", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps[1].Timeout = "1s"
			s.Spec.Steps[1].Retry.MaxAttempts = 2
		})
		done := waitForPhase(s, ordersv1alpha1.PhaseCompensated)

		Expect(sequence(done.UID)).To(Equal([]string{
			"ReserveInventory#1", "ChargePayment#1", "ChargePayment#2", "RefundPayment#1", "ReleaseInventory#1"}),
			"a timed-out charge may have happened: it is refunded")
		charges := received("payment", done.UID)
		Expect(charges[0].Delivery.MessageId).NotTo(Equal(charges[1].Delivery.MessageId))
		Expect(charges[1].At.Sub(charges[0].At)).To(BeNumerically(">=", time.Second))
		Expect(charges[0].Command.IdempotencyKey).To(Equal(charges[1].Command.IdempotencyKey))
	})

	It("retries a retryable failure with backoff", func() {
		ns := newNamespace()
		var calls atomic.Int32
		script.set(ns, "payment", func(protocol.Command) *protocol.Reply {
			if calls.Add(1) <= 2 {
				return &protocol.Reply{Status: protocol.StatusRetryable, Reason: "GatewayBusy"}
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		s := createSaga(ns, "order-busy", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps[1].Retry = ordersv1alpha1.RetryPolicy{MaxAttempts: 3, InitialDelay: "400ms", Factor: 2, MaxDelay: "5s"}
		})
		done := waitForPhase(s, ordersv1alpha1.PhaseCompleted)

		charges := received("payment", done.UID)
		Expect(charges).To(HaveLen(3))
		// Equal jitter: at least half the nominal delay (400ms, then 800ms).
		Expect(charges[1].At.Sub(charges[0].At)).To(BeNumerically(">=", 200*time.Millisecond))
		Expect(charges[2].At.Sub(charges[1].At)).To(BeNumerically(">=", 400*time.Millisecond))
		Expect(stepState(done, "charge-payment").Attempts).To(BeEquivalentTo(3))
		Eventually(func(g Gomega) { g.Expect(eventReasons(g, done)).To(ContainElement("StepRetrying")) }).Should(Succeed())
	})

	It("ignores duplicate and out-of-order replies", func() {
		ns := newNamespace()
		ch := testChannel()
		var forgedID string
		script.set(ns, "payment", func(cmd protocol.Command) *protocol.Reply {
			// Before answering: a reply for step 3, which has not been sent,
			// with headers and correlation id that agree with each other.
			h := protocol.Headers{SagaNamespace: cmd.Saga.Namespace, SagaName: cmd.Saga.Name, SagaUID: cmd.Saga.UID,
				Step: "schedule-shipment", Kind: protocol.KindCommand, Attempt: 1}
			defer GinkgoRecover()
			forgedID = "early-" + cmd.Saga.UID
			sendReply(ch, forgedID, protocol.MessageID(cmd.Saga.UID, h.Step, h.Kind, 0, 1), h.Table(),
				protocol.ContentType, replyBody(protocol.Reply{Status: protocol.StatusFailed, Reason: "Early"}))
			// Only then answer the charge, so that the early reply is surely
			// handled before step 3 is sent.
			Eventually(func() bool { return deadLetters.has(forgedID) }).Should(BeTrue())
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		script.set(ns, "shipping", func(cmd protocol.Command) *protocol.Reply {
			// The inventory's reply again, long after it was applied.
			first := received("inventory", types.UID(cmd.Saga.UID))[0].Delivery
			sendReply(ch, "dup-"+cmd.Saga.UID, first.MessageId, first.Headers, protocol.ContentType,
				replyBody(protocol.Reply{Status: protocol.StatusFailed, Reason: "Duplicate"}))
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		sg := createSaga(ns, "order-noise")
		done := waitForPhase(sg, ordersv1alpha1.PhaseCompleted)

		Expect(sequence(done.UID)).To(Equal([]string{"ReserveInventory#1", "ChargePayment#1", "ScheduleShipment#1"}))
		for _, rec := range done.Status.Steps {
			Expect(rec.State).To(Equal(ordersv1alpha1.StepSucceeded))
			Expect(rec.Reason).To(BeEmpty())
		}
		Expect(deadLetters.reason(forgedID)).To(Equal("UnmatchedReply"))
		Consistently(func() bool { return deadLetters.has("dup-" + string(done.UID)) }, time.Second).Should(BeFalse(),
			"a duplicate is acknowledged, not dead-lettered")
	})

	It("dead-letters replies for unknown sagas and malformed replies, and keeps running", func() {
		ch := testChannel()
		ghostUID := string(uuid.NewUUID())
		ghost := protocol.Headers{SagaNamespace: "nowhere", SagaName: "ghost", SagaUID: ghostUID,
			Step: "charge-payment", Kind: protocol.KindCommand, Attempt: 1}
		sendReply(ch, "ghost-reply", protocol.MessageID(ghostUID, "charge-payment", protocol.KindCommand, 0, 1),
			ghost.Table(), protocol.ContentType, replyBody(protocol.Reply{Status: protocol.StatusSucceeded}))
		sendReply(ch, "malformed-reply", "c-1", ghost.Table(), protocol.ContentType, []byte("{not json"))
		sendReply(ch, "wrong-type-reply", "c-2", ghost.Table(), "text/plain", []byte("ok"))
		sendReply(ch, "headless-reply", "c-3", nil, protocol.ContentType, replyBody(protocol.Reply{Status: protocol.StatusSucceeded}))

		Expect(deadLetters.reason("ghost-reply")).To(Equal("UnknownSaga"))
		Expect(deadLetters.reason("malformed-reply")).To(Equal(protocol.RejectMalformed))
		Expect(deadLetters.reason("wrong-type-reply")).To(Equal(protocol.RejectWrongContentType))
		Expect(deadLetters.reason("headless-reply")).To(Equal(protocol.RejectMissingHeaders))

		waitForPhase(createSaga(newNamespace(), "order-after-noise"), ordersv1alpha1.PhaseCompleted)
	})

	It("waits for a service that is not registered, says so, and goes on once a Participant registers it", func() {
		service := "late-" + rand.String(4)
		s := createSaga(newNamespace(), "order-unregistered", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps[1].Service = service
		})
		Eventually(func(g Gomega) {
			got := &ordersv1alpha1.OrderSaga{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), got)).To(Succeed())
			blocked := meta.FindStatusCondition(got.Status.Conditions, ordersv1alpha1.ConditionBlocked)
			g.Expect(blocked).NotTo(BeNil())
			g.Expect(blocked.Reason).To(Equal(ordersv1alpha1.ReasonParticipantNotRegistered))
			g.Expect(blocked.Message).To(ContainSubstring("no Participant " + service))
			g.Expect(stepState(got, "charge-payment").State).To(Equal(ordersv1alpha1.StepPending))
			g.Expect(eventReasons(g, got)).To(ContainElement(string(ordersv1alpha1.TransitionStepBlocked)))
		}).Should(Succeed())

		late := fixtures.NewParticipants("guest")[1] // payment's commands, under the late service's name
		late.Name = service
		Expect(registry.Register(ctx, k8sClient, topology.CommandExchange(), late)).To(Succeed())
		p, err := simparticipant.Start(rabbitmq.BrokerURL(), topology.CommandExchange(), service, simparticipant.Succeed)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(p.Stop)

		done := waitForPhase(s, ordersv1alpha1.PhaseCompleted)
		Expect(meta.FindStatusCondition(done.Status.Conditions, ordersv1alpha1.ConditionBlocked)).To(BeNil())
	})

	It("is finished by a new manager after the first one stops mid-saga", func() {
		ns := newNamespace()
		var copies atomic.Int32
		script.set(ns, "payment", func(protocol.Command) *protocol.Reply {
			if copies.Add(1) == 1 {
				return nil // the first copy is lost with the manager
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		s := createSaga(ns, "order-restart", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Timeout = "1m" })
		Eventually(func() int { return len(received("payment", s.UID)) }).Should(Equal(1))

		running.stop()
		running = startOperator()
		done := waitForPhase(s, ordersv1alpha1.PhaseCompleted)

		charges := received("payment", done.UID)
		Expect(charges).To(HaveLen(2))
		Expect(charges[1].Delivery.MessageId).To(Equal(charges[0].Delivery.MessageId), "sent again with the same id")
		Expect(stepState(done, "charge-payment").Attempts).To(BeEquivalentTo(1), "a resend is not a retry")
	})

	It("ends every saga in the right phase when RabbitMQ connections are force-closed", func() {
		ns := newNamespace()
		script.set(ns, "payment", func(cmd protocol.Command) *protocol.Reply {
			if cmd.Kind == protocol.KindCommand && cmd.Order.Customer.ID == "CUST-BROKE" {
				return &protocol.Reply{Status: protocol.StatusFailed, Reason: "CardDeclined"}
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		sagas := make([]*ordersv1alpha1.OrderSaga, 0, 20)
		for i := range 20 {
			sagas = append(sagas, createSaga(ns, fmt.Sprintf("order-%d", i), func(s *ordersv1alpha1.OrderSaga) {
				if i%4 == 0 {
					s.Spec.Order.Customer.ID = "CUST-BROKE"
				}
				for j := range s.Spec.Steps {
					s.Spec.Steps[j].Timeout = "2s"
				}
			}))
		}
		_, err := rabbitmq.Ctl("close_all_connections", "closed by the controller suite")
		Expect(err).NotTo(HaveOccurred())

		for i, s := range sagas {
			want := ordersv1alpha1.PhaseCompleted
			if i%4 == 0 {
				want = ordersv1alpha1.PhaseCompensated
			}
			waitForPhase(s, want)
		}
		Eventually(running.Broker.Connected).Should(BeTrue())
	})

	It("runs 200 concurrent sagas, some failing, each compensated exactly once in reverse order", func() {
		ns := newNamespace()
		script.set(ns, "payment", func(cmd protocol.Command) *protocol.Reply {
			if cmd.Kind == protocol.KindCommand && cmd.Order.Customer.ID == "CUST-DECLINED" {
				return &protocol.Reply{Status: protocol.StatusFailed, Reason: "CardDeclined"}
			}
			return paymentWithID(cmd)
		})
		script.set(ns, "shipping", func(cmd protocol.Command) *protocol.Reply {
			if cmd.Order.Customer.ID == "CUST-FAR-AWAY" {
				return &protocol.Reply{Status: protocol.StatusFailed, Reason: "NoCarrier"}
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		const n = 200
		customer := func(i int) string {
			switch {
			case i%5 == 0:
				return "CUST-DECLINED"
			case i%7 == 0:
				return "CUST-FAR-AWAY"
			}
			return "CUST-OK"
		}
		start := time.Now()
		sagas := make([]*ordersv1alpha1.OrderSaga, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				defer GinkgoRecover()
				sagas[i] = createSaga(ns, fmt.Sprintf("order-%03d", i), func(s *ordersv1alpha1.OrderSaga) {
					s.Spec.Order.Customer.ID = customer(i)
				})
			})
		}
		wg.Wait()

		expected := map[string][]string{
			"CUST-OK":       {"ReserveInventory#1", "ChargePayment#1", "ScheduleShipment#1"},
			"CUST-DECLINED": {"ReserveInventory#1", "ChargePayment#1", "ReleaseInventory#1"},
			"CUST-FAR-AWAY": {"ReserveInventory#1", "ChargePayment#1", "ScheduleShipment#1", "RefundPayment#1", "ReleaseInventory#1"},
		}
		writes, transitions := 0, 0
		for i, s := range sagas {
			want := ordersv1alpha1.PhaseCompensated
			if customer(i) == "CUST-OK" {
				want = ordersv1alpha1.PhaseCompleted
			}
			done := waitForPhase(s, want)
			Expect(sequence(done.UID)).To(Equal(expected[customer(i)]), "saga %s", s.Name)
			writes += counts.statusWrites(done.UID)
			transitions += counts.stepTransitions(done.UID)
		}
		elapsed := time.Since(start)
		ratio := float64(writes) / float64(transitions)
		GinkgoWriter.Printf("200 sagas final in %s; %d status writes for %d step transitions (%.2f per transition)\n",
			elapsed.Round(time.Millisecond), writes, transitions, ratio)
		AddReportEntry("200 concurrent sagas", fmt.Sprintf("%s, %.2f status writes per step transition", elapsed.Round(time.Millisecond), ratio))
		Expect(ratio).To(BeNumerically("<=", 1.0))
	})

	It("compensates a running saga when its deadline passes", func() {
		ns := newNamespace()
		script.set(ns, "payment", func(cmd protocol.Command) *protocol.Reply {
			if cmd.Kind == protocol.KindCommand {
				return nil
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		s := createSaga(ns, "order-late", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Deadline = "2s"
			s.Spec.Steps[1].Timeout = "1m"
		})
		done := waitForPhase(s, ordersv1alpha1.PhaseCompensated)
		Expect(done.Status.CompletionTime.Sub(done.Status.StartTime.Time)).To(BeNumerically(">=", time.Second))
		Expect(done.Status.Conditions).To(ContainElement(And(
			HaveField("Type", ordersv1alpha1.ConditionStalled), HaveField("Message", ContainSubstring("Deadline of 2s passed")))))
		Expect(sequence(done.UID)).To(Equal([]string{"ReserveInventory#1", "ChargePayment#1", "RefundPayment#1", "ReleaseInventory#1"}))
	})

	It("compensates a running saga when cancelled", func() {
		ns := newNamespace()
		script.set(ns, "payment", func(cmd protocol.Command) *protocol.Reply {
			if cmd.Kind == protocol.KindCommand {
				return nil // the charge is in flight when the cancel comes
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		s := createSaga(ns, "order-cancel", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Timeout = "1m" })
		Eventually(func() int { return len(received("payment", s.UID)) }).Should(Equal(1))

		patch := client.MergeFrom(s.DeepCopy())
		s.Spec.Cancel = true
		Expect(k8sClient.Patch(ctx, s, patch)).To(Succeed())
		done := waitForPhase(s, ordersv1alpha1.PhaseCompensated)

		Expect(sequence(done.UID)).To(Equal([]string{"ReserveInventory#1", "ChargePayment#1", "RefundPayment#1", "ReleaseInventory#1"}))
		Expect(stepState(done, "schedule-shipment").State).To(Equal(ordersv1alpha1.StepSkipped))
		Expect(done.Status.Conditions).To(ContainElement(And(
			HaveField("Type", ordersv1alpha1.ConditionStalled), HaveField("Message", ContainSubstring("Cancel requested")))))
	})

	It("compensates a running saga before releasing it when deleted", func() {
		ns := newNamespace()
		script.set(ns, "payment", func(cmd protocol.Command) *protocol.Reply {
			if cmd.Kind == protocol.KindCommand {
				return nil
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		s := createSaga(ns, "order-delete", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[1].Timeout = "1m" })
		Eventually(func() int { return len(received("payment", s.UID)) }).Should(Equal(1))

		Expect(k8sClient.Delete(ctx, s)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), &ordersv1alpha1.OrderSaga{}))
		}).Should(BeTrue())
		Expect(sequence(s.UID)).To(Equal([]string{"ReserveInventory#1", "ChargePayment#1", "RefundPayment#1", "ReleaseInventory#1"}))
	})

	It("stalls when a compensation keeps failing, and resumes on the retry annotation", func() {
		ns := newNamespace()
		var warehouseUp atomic.Bool
		script.set(ns, "payment", fail("CardDeclined"))
		script.set(ns, "inventory", func(cmd protocol.Command) *protocol.Reply {
			if cmd.Kind == protocol.KindCompensation && !warehouseUp.Load() {
				return &protocol.Reply{Status: protocol.StatusRetryable, Reason: "WarehouseOffline"}
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		s := createSaga(ns, "order-stuck", func(s *ordersv1alpha1.OrderSaga) { s.Spec.Steps[0].Retry.MaxAttempts = 2 })
		failed := waitForPhase(s, ordersv1alpha1.PhaseFailed)
		Expect(stepState(failed, "reserve-inventory")).To(And(
			HaveField("State", ordersv1alpha1.StepCompensationFailed), HaveField("CompensationReason", "WarehouseOffline"),
			HaveField("CompensationAttempts", BeEquivalentTo(2))))
		Expect(failed.Status.Conditions).To(ContainElement(And(
			HaveField("Type", ordersv1alpha1.ConditionStalled), HaveField("Status", metav1.ConditionTrue),
			HaveField("Reason", ordersv1alpha1.ReasonCompensationFailed))))
		Consistently(func() int { return len(received("inventory", s.UID)) }, time.Second).Should(Equal(3))

		warehouseUp.Store(true)
		patch := client.MergeFrom(failed.DeepCopy())
		metav1.SetMetaDataAnnotation(&failed.ObjectMeta, ordersv1alpha1.RetryAnnotation, "2026-11-27T12:00:00Z")
		Expect(k8sClient.Patch(ctx, failed, patch)).To(Succeed())

		done := waitForPhase(s, ordersv1alpha1.PhaseCompensated)
		Expect(done.Status.RetryRound).To(BeEquivalentTo(1))
		Expect(done.Status.LastHandledRetry).To(Equal("2026-11-27T12:00:00Z"))
		releases := received("inventory", s.UID)[1:]
		Expect(releases).To(HaveLen(3))
		Expect(releases[2].Command.IdempotencyKey).NotTo(Equal(releases[0].Command.IdempotencyKey), "a new round, a new key")
	})
})
