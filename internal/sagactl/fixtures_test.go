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

package sagactl

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// The fixtures are sagas as the operator leaves them, at fixed times, for
// the golden files and, stored in envtest, for the commands. The golden
// files are also the example outputs of docs/kubectl-saga.md.

// fixtureNamespace is the namespace of every fixture.
const fixtureNamespace = "shop"

var (
	// t0 is when the fixtures' sagas started.
	t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	// fixtureNow is when the golden files are rendered.
	fixtureNow = t0.Add(5 * time.Minute)
)

// at is t0 plus d, as the status writes times.
func at(d time.Duration) *metav1.MicroTime {
	t := metav1.NewMicroTime(t0.Add(d))
	return &t
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// checkoutSteps are the steps of config/samples/sagatemplate_checkout.yaml.
func checkoutSteps() []ordersv1alpha1.SagaStep {
	return []ordersv1alpha1.SagaStep{
		{
			Name: "reserve-inventory", Service: "inventory",
			Command:      ordersv1alpha1.Command{Name: "ReserveInventory"},
			Compensation: &ordersv1alpha1.Command{Name: "ReleaseInventory"},
			Timeout:      "10s",
		},
		{
			Name: "charge-payment", Service: "payment",
			Command:      ordersv1alpha1.Command{Name: "ChargePayment"},
			Compensation: &ordersv1alpha1.Command{Name: "RefundPayment"},
			Timeout:      "10s",
			Retry:        ordersv1alpha1.RetryPolicy{MaxAttempts: 5, InitialDelay: "500ms", Factor: 2, MaxDelay: "10s"},
		},
		{
			Name: "schedule-shipment", Service: "shipping",
			Command: ordersv1alpha1.Command{Name: "ScheduleShipment",
				Parameters: map[string]ordersv1alpha1.ParameterValue{"carrier": "dhl"}},
			Compensation: &ordersv1alpha1.Command{Name: "CancelShipment"},
			Timeout:      "20s",
		},
	}
}

// newFixture returns a saga of order id created at created, running the
// checkout template (pinned at generation 3) if template, else its steps.
func newFixture(name, orderID string, created time.Duration, template bool) *ordersv1alpha1.OrderSaga {
	s := &ordersv1alpha1.OrderSaga{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: fixtureNamespace, Name: name,
			CreationTimestamp: metav1.NewTime(t0.Add(created)),
		},
		Spec: ordersv1alpha1.OrderSagaSpec{
			Order: ordersv1alpha1.Order{
				ID:       orderID,
				Customer: ordersv1alpha1.Customer{ID: "CUST-7"},
				Items:    []ordersv1alpha1.LineItem{{SKU: "SKU-ESPRESSO-MACHINE", Quantity: 3, UnitPrice: "899.00"}},
				Total:    ordersv1alpha1.Money{Amount: "2697.00", Currency: "EUR"},
			},
		},
	}
	if template {
		s.Spec.TemplateRef = &ordersv1alpha1.TemplateReference{Name: "checkout"}
		s.Status.Template = &ordersv1alpha1.PinnedTemplate{Name: "checkout", Generation: 3, Steps: checkoutSteps(), Deadline: "10m"}
	} else {
		s.Spec.Steps = checkoutSteps()
		s.Spec.Deadline = "10m"
	}
	return s
}

// conditions returns the conditions the operator sets, all changed at t0.
func conditions(cs ...metav1.Condition) []metav1.Condition {
	for i := range cs {
		cs[i].LastTransitionTime = metav1.NewTime(t0)
	}
	return cs
}

// history numbers the entries from first on.
func history(first int32, entries ...ordersv1alpha1.HistoryEntry) []ordersv1alpha1.HistoryEntry {
	for i := range entries {
		entries[i].Seq = first + int32(i)
	}
	return entries
}

// compensatedSaga is config/samples/ordersaga_compensated.yaml's story on the
// checkout template: the card is declined, the stock released.
func compensatedSaga() *ordersv1alpha1.OrderSaga {
	s := newFixture("order-1002", "ORD-1002", -ms(120), true)
	cause := "Step charge-payment failed: CardDeclined: Card ending 4242 declined: insufficient funds"
	s.Status = ordersv1alpha1.OrderSagaStatus{
		Phase:          ordersv1alpha1.PhaseCompensated,
		Template:       s.Status.Template,
		StartTime:      at(0),
		CompletionTime: at(ms(2840)),
		Steps: []ordersv1alpha1.StepStatus{
			{
				Name: "reserve-inventory", State: ordersv1alpha1.StepCompensated,
				Attempts: 1, CompensationAttempts: 1,
				StartedAt: at(ms(12)), CompletedAt: at(ms(2840)),
				Result: map[string]ordersv1alpha1.ResultValue{"reservationId": "RSV-1002-A", "warehouse": "ams-2"},
			},
			{
				Name: "charge-payment", State: ordersv1alpha1.StepFailed, Attempts: 2,
				StartedAt: at(ms(410)), CompletedAt: at(ms(2120)),
				Reason: "CardDeclined", Message: "Card ending 4242 declined: insufficient funds",
			},
			{Name: "schedule-shipment", State: ordersv1alpha1.StepSkipped},
		},
		History: history(1,
			ordersv1alpha1.HistoryEntry{Time: *at(0), Reason: ordersv1alpha1.TransitionStarted, Message: "Saga for order ORD-1002 started with 3 steps"},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(12)), Reason: ordersv1alpha1.TransitionStepStarted, Step: "reserve-inventory", Message: "Sent ReserveInventory to inventory"},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(405)), Reason: ordersv1alpha1.TransitionStepSucceeded, Step: "reserve-inventory", Message: "Succeeded on attempt 1"},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(410)), Reason: ordersv1alpha1.TransitionStepStarted, Step: "charge-payment", Message: "Sent ChargePayment to payment"},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(1530)), Reason: ordersv1alpha1.TransitionStepRetrying, Step: "charge-payment", Message: "Attempt 1 of 5 failed (RetryableFailure: payment gateway busy); next in 372ms"},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(2120)), Reason: ordersv1alpha1.TransitionStepFailed, Step: "charge-payment", Message: "CardDeclined: Card ending 4242 declined: insufficient funds"},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(2120)), Reason: ordersv1alpha1.TransitionCompensationStarted, Message: cause},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(2125)), Reason: ordersv1alpha1.TransitionStepCompensating, Step: "reserve-inventory", Message: "Sent ReleaseInventory to inventory"},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(2840)), Reason: ordersv1alpha1.TransitionStepCompensated, Step: "reserve-inventory", Message: "Compensated on attempt 1"},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(2840)), Reason: ordersv1alpha1.TransitionCompensated, Message: "Every completed step was compensated. " + cause},
		),
		PublishedThrough: 10,
		Conditions: conditions(
			metav1.Condition{Type: ordersv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: ordersv1alpha1.ReasonCompensated, Message: "Compensation finished. " + cause},
			metav1.Condition{Type: ordersv1alpha1.ConditionCompensating, Status: metav1.ConditionFalse, Reason: ordersv1alpha1.ReasonCompensated, Message: "Compensation finished. " + cause},
			metav1.Condition{Type: ordersv1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: ordersv1alpha1.ReasonCompensated, Message: "Compensation finished. " + cause},
		),
	}
	return s
}

// failedSaga ran its own steps: the shipment got no reply and was
// cancelled, but the refund of the payment was rejected three times.
func failedSaga() *ordersv1alpha1.OrderSaga {
	s := newFixture("order-1003", "ORD-1003", -ms(300), false)
	why := "Compensation of step charge-payment failed: RefundRejected: Acquirer refused the refund: account closed. Set the orders.ordersaga.io/retry annotation to retry"
	s.Status = ordersv1alpha1.OrderSagaStatus{
		Phase:          ordersv1alpha1.PhaseFailed,
		StartTime:      at(0),
		CompletionTime: at(ms(98_310)),
		Steps: []ordersv1alpha1.StepStatus{
			{
				Name: "reserve-inventory", State: ordersv1alpha1.StepSucceeded, Attempts: 1,
				StartedAt: at(ms(8)), CompletedAt: at(ms(351)),
				Result: map[string]ordersv1alpha1.ResultValue{"reservationId": "RSV-1003-C"},
			},
			{
				Name: "charge-payment", State: ordersv1alpha1.StepCompensationFailed,
				Attempts: 1, CompensationAttempts: 3,
				StartedAt: at(ms(356)), CompletedAt: at(ms(98_310)),
				Result: map[string]ordersv1alpha1.ResultValue{
					"paymentId": "PAY-88231", "amount": "2697.00", "captured": "true",
					"authorizationCode": "A7F3-22C9-0B1D-44E8", "acquirer": "adyen-eu-west",
				},
				ResultTypes:         map[string]ordersv1alpha1.ResultType{"amount": ordersv1alpha1.ResultNumber, "captured": ordersv1alpha1.ResultBoolean},
				CompensationReason:  "RefundRejected",
				CompensationMessage: "Acquirer refused the refund: account closed",
			},
			{
				Name: "schedule-shipment", State: ordersv1alpha1.StepCompensated,
				Attempts: 3, TimedOutAttempts: 3, CompensationAttempts: 1,
				StartedAt: at(ms(1_204)), CompletedAt: at(ms(66_950)),
				Reason: "Timeout", Message: "No reply within 20s",
			},
		},
		History: history(1,
			ordersv1alpha1.HistoryEntry{Time: *at(0), Reason: ordersv1alpha1.TransitionStarted, Message: "Saga for order ORD-1003 started with 3 steps"},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(65_120)), Reason: ordersv1alpha1.TransitionStepTimedOut, Step: "schedule-shipment", Message: "Failed after 3 attempts: Timeout: No reply within 20s"},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(65_120)), Reason: ordersv1alpha1.TransitionCompensationStarted, Message: "Step schedule-shipment timed out: Timeout: No reply within 20s"},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(66_950)), Reason: ordersv1alpha1.TransitionStepCompensated, Step: "schedule-shipment", Message: "Compensated on attempt 1"},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(98_310)), Reason: ordersv1alpha1.TransitionStepCompensationFailed, Step: "charge-payment", Message: "Compensation failed after 3 attempts: RefundRejected: Acquirer refused the refund: account closed"},
			ordersv1alpha1.HistoryEntry{Time: *at(ms(98_310)), Reason: ordersv1alpha1.TransitionFailed, Message: why},
		),
		HistoryDropped:   7,
		PublishedThrough: 13,
		Conditions: conditions(
			metav1.Condition{Type: ordersv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: ordersv1alpha1.ReasonCompensationFailed, Message: why},
			metav1.Condition{Type: ordersv1alpha1.ConditionCompensating, Status: metav1.ConditionFalse, Reason: ordersv1alpha1.ReasonCompensationFailed, Message: why},
			metav1.Condition{Type: ordersv1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: ordersv1alpha1.ReasonCompensationFailed, Message: why},
		),
	}
	// The history kept starts after the seven entries dropped.
	for i := range s.Status.History {
		s.Status.History[i].Seq += s.Status.HistoryDropped
	}
	return s
}

// runningSaga waits to send the third attempt of its payment; its timers
// were paused for 3s while the broker was away.
func runningSaga() *ordersv1alpha1.OrderSaga {
	s := newFixture("order-1004", "ORD-1004", ms(4*60_000), true)
	s.Status = ordersv1alpha1.OrderSagaStatus{
		Phase:           ordersv1alpha1.PhaseRunning,
		CurrentStep:     "charge-payment",
		Template:        s.Status.Template,
		StartTime:       at(ms(4*60_000 + 200)),
		TimersPausedFor: "3s",
		Steps: []ordersv1alpha1.StepStatus{
			{
				Name: "reserve-inventory", State: ordersv1alpha1.StepSucceeded, Attempts: 1,
				StartedAt: at(ms(4*60_000 + 210)), CompletedAt: at(ms(4*60_000 + 530)),
				Result: map[string]ordersv1alpha1.ResultValue{"reservationId": "RSV-1004-B"},
			},
			{
				Name: "charge-payment", State: ordersv1alpha1.StepRunning, Attempts: 2,
				StartedAt: at(ms(4*60_000 + 540)), DispatchedAt: at(ms(4*60_000 + 2_100)),
				NextAttemptAt: at(ms(5*60_000 + 1_500)),
				Reason:        "RetryableFailure", Message: "payment gateway busy",
			},
			{Name: "schedule-shipment", State: ordersv1alpha1.StepPending},
		},
		History: history(1,
			ordersv1alpha1.HistoryEntry{Time: *at(ms(4*60_000 + 200)), Reason: ordersv1alpha1.TransitionStarted, Message: "Saga for order ORD-1004 started with 3 steps"},
		),
		Conditions: conditions(
			metav1.Condition{Type: ordersv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: ordersv1alpha1.ReasonRunning, Message: "Running step charge-payment: waiting to send attempt 3 of 5"},
			metav1.Condition{Type: ordersv1alpha1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: ordersv1alpha1.ReasonRunning, Message: "Running step charge-payment: waiting to send attempt 3 of 5"},
		),
	}
	return s
}

// pendingSaga has not been seen by the operator: no status, and a step
// name too long for tree's column.
func pendingSaga() *ordersv1alpha1.OrderSaga {
	s := newFixture("order-1005", "ORD-1005", ms(4*60_000+50_000), false)
	s.Spec.Steps = append(s.Spec.Steps, ordersv1alpha1.SagaStep{
		Name: "notify-customer-by-email-and-sms", Service: "notifications",
		Command: ordersv1alpha1.Command{Name: "NotifyCustomer"},
	})
	return s
}

// fixtures are the sagas of the golden files, by golden file name.
func fixtures() map[string]*ordersv1alpha1.OrderSaga {
	return map[string]*ordersv1alpha1.OrderSaga{
		"compensated": compensatedSaga(),
		"failed":      failedSaga(),
		"running":     runningSaga(),
		"pending":     pendingSaga(),
	}
}

// parallelSaga is the running saga with schedule-shipment running after
// reserve-inventory only, so beside charge-payment.
func parallelSaga() *ordersv1alpha1.OrderSaga {
	s := runningSaga()
	s.Status.Template = s.Status.Template.DeepCopy()
	s.Status.Template.Steps[2].RunAfter = []string{"reserve-inventory"}
	s.Status.Steps[2] = ordersv1alpha1.StepStatus{
		Name: "schedule-shipment", State: ordersv1alpha1.StepSucceeded, Attempts: 1,
		StartedAt: at(ms(4*60_000 + 540)), CompletedAt: at(ms(4*60_000 + 900)),
	}
	return s
}
