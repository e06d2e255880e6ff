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

package metrics

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/mediator"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// registered returns the names of every metric the operator exposes.
func registered(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := New()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := mediator.Metrics(reg); err != nil {
		t.Fatal(err)
	}
	inbox := NewInboxCollector()
	inbox.SetSource(fakeInbox{})
	if err := reg.Register(inbox); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{"ordersaga_sagas": true, "ordersaga_sagas_past_deadline": true}
	// Touch every vector so that Gather lists it.
	m.SagaDuration.WithLabelValues("Completed", "false").Observe(1)
	m.StepDuration.WithLabelValues("s", "c", "Succeeded").Observe(1)
	m.StepAttempts.WithLabelValues("s", "c", "command").Inc()
	m.StepRetries.WithLabelValues("s", "c", "command", "timeout").Inc()
	m.Compensations.WithLabelValues("started", "false").Inc()
	m.Transitions.WithLabelValues("Started").Inc()
	m.CommandsPublished.WithLabelValues("command").Inc()
	m.PublishFailures.WithLabelValues("unroutable").Inc()
	m.RepliesReceived.WithLabelValues("succeeded").Inc()
	m.RepliesDeadLettered.WithLabelValues("UnknownSaga").Inc()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		names[f.GetName()] = true
	}
	names["ordersaga_mediator_dispatch_duration_seconds"] = true
	return names
}

// The alerts and the dashboard must only name metrics that exist.
func TestShippedConfigurationUsesExistingMetrics(t *testing.T) {
	names := registered(t)
	metric := regexp.MustCompile(`ordersaga_[a-z_]+`)
	for _, file := range []string{"alerts.yaml", "grafana-dashboard.json"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "config", "prometheus", file))
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, name := range metric.FindAllString(string(raw), -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
			if !names[base] && !names[name] {
				t.Errorf("%s names %s, which the operator does not expose", file, name)
			}
			found++
		}
		if found == 0 {
			t.Errorf("%s names no metric", file)
		}
	}
}

func TestTransitionsBecomeDurationsAndCounts(t *testing.T) {
	m := New()
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	obj := &ordersv1alpha1.OrderSaga{
		Spec: ordersv1alpha1.OrderSagaSpec{Steps: []ordersv1alpha1.SagaStep{{Name: "pay", Service: "payment",
			Command: ordersv1alpha1.Command{Name: "Charge"}, Compensation: &ordersv1alpha1.Command{Name: "Refund"}}}},
		Status: ordersv1alpha1.OrderSagaStatus{
			StartTime:      &metav1.MicroTime{Time: start},
			CompletionTime: &metav1.MicroTime{Time: start.Add(3 * time.Second)},
			Steps: []ordersv1alpha1.StepStatus{{Name: "pay", Reason: ordersv1alpha1.StepReasonTimeout,
				CompensationReason: ordersv1alpha1.StepReasonUnroutable,
				StartedAt:          &metav1.MicroTime{Time: start}, CompletedAt: &metav1.MicroTime{Time: start.Add(2 * time.Second)}}},
		},
	}
	m.Transitioned(obj, saga.Transition{Reason: "StepStarted", Step: "pay", Kind: protocol.KindCommand})
	m.Transitioned(obj, saga.Transition{Reason: "StepRetrying", Step: "pay", Kind: protocol.KindCommand})
	m.Transitioned(obj, saga.Transition{Reason: "StepRetried", Step: "pay", Kind: protocol.KindCommand})
	m.Transitioned(obj, saga.Transition{Reason: "StepSucceeded", Step: "pay", Kind: protocol.KindCommand, To: "Succeeded"})
	m.Transitioned(obj, saga.Transition{Reason: "StepCompensating", Step: "pay", Kind: protocol.KindCompensation})
	m.Transitioned(obj, saga.Transition{Reason: "StepCompensationRetrying", Step: "pay", Kind: protocol.KindCompensation})
	m.Transitioned(obj, saga.Transition{Reason: "CompensationStarted", To: "Compensating"})
	m.Transitioned(obj, saga.Transition{Reason: "Compensated", To: "Compensated"})

	if got := testutil.ToFloat64(m.StepAttempts.WithLabelValues("payment", "Charge", "command")); got != 2 {
		t.Errorf("command attempts %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.StepAttempts.WithLabelValues("payment", "Refund", "compensation")); got != 1 {
		t.Errorf("compensation attempts %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.StepRetries.WithLabelValues("payment", "Charge", "command", "timeout")); got != 1 {
		t.Errorf("retries %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.StepRetries.WithLabelValues("payment", "Refund", "compensation", "unroutable")); got != 1 {
		t.Errorf("compensation retries by the compensation's reason %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.Compensations.WithLabelValues("completed", "false")); got != 1 {
		t.Errorf("compensations completed %v", got)
	}
	if got := testutil.CollectAndCount(m.StepDuration); got != 1 {
		t.Errorf("step duration series %d", got)
	}
	if got := testutil.CollectAndCount(m.SagaDuration); got != 1 {
		t.Errorf("saga duration series %d", got)
	}
	if got := testutil.ToFloat64(m.Transitions.WithLabelValues("StepStarted")); got != 1 {
		t.Errorf("transitions %v", got)
	}
}

func TestADrillIsLabelledSoThatDashboardsCanLeaveItOut(t *testing.T) {
	m := New()
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	obj := &ordersv1alpha1.OrderSaga{Status: ordersv1alpha1.OrderSagaStatus{Drill: true,
		StartTime: &metav1.MicroTime{Time: start}, CompletionTime: &metav1.MicroTime{Time: start.Add(time.Second)}}}
	m.Transitioned(obj, saga.Transition{Reason: ordersv1alpha1.TransitionCompensationStarted, To: "Compensating"})
	m.Transitioned(obj, saga.Transition{Reason: ordersv1alpha1.TransitionCompensated, To: "Compensated"})

	for _, event := range []string{"started", "completed"} {
		if got := testutil.ToFloat64(m.Compensations.WithLabelValues(event, "true")); got != 1 {
			t.Errorf("drill compensations %s = %v, want 1", event, got)
		}
		if got := testutil.ToFloat64(m.Compensations.WithLabelValues(event, "false")); got != 0 {
			t.Errorf("real compensations %s = %v, want 0", event, got)
		}
	}
	if got := testutil.CollectAndCount(m.SagaDuration); got != 1 {
		t.Fatalf("saga duration series %d", got)
	}
	if got := testutil.ToFloat64(m.Transitions.WithLabelValues(string(ordersv1alpha1.TransitionCompensated))); got != 1 {
		t.Errorf("transitions %v", got)
	}
}

func TestPublishAndConnectionMetrics(t *testing.T) {
	m := New()
	m.CommandPublished(protocol.KindCommand, nil)
	m.CommandPublished(protocol.KindCommand, amqpconn.ErrNotConnected)
	m.CommandPublished(protocol.KindCommand, &amqpconn.UnroutableError{RoutingKey: "x"})
	m.CommandPublished(protocol.KindCommand, errors.Join(amqpconn.ErrNotConfirmed))
	for reason, want := range map[string]float64{"not_connected": 1, "unroutable": 1, "not_confirmed": 1} {
		if got := testutil.ToFloat64(m.PublishFailures.WithLabelValues(reason)); got != want {
			t.Errorf("publish failures %s = %v", reason, got)
		}
	}
	m.ConnectionChanged(true)
	m.ConnectionChanged(false)
	m.ConnectionChanged(true)
	if testutil.ToFloat64(m.BrokerConnected) != 1 || testutil.ToFloat64(m.BrokerReconnects) != 1 {
		t.Errorf("connected %v reconnects %v", testutil.ToFloat64(m.BrokerConnected), testutil.ToFloat64(m.BrokerReconnects))
	}
	m.PublishingBlocked(true)
	if testutil.ToFloat64(m.BrokerConnected) != 0 {
		t.Errorf("connected %v while the broker blocks publishing", testutil.ToFloat64(m.BrokerConnected))
	}
	m.PublishingBlocked(false)
	if testutil.ToFloat64(m.BrokerConnected) != 1 || testutil.ToFloat64(m.BrokerReconnects) != 1 {
		t.Errorf("connected %v reconnects %v after unblocking", testutil.ToFloat64(m.BrokerConnected), testutil.ToFloat64(m.BrokerReconnects))
	}
}

func TestSagaCollectorCountsPhasesAndPastDeadline(t *testing.T) {
	old := &metav1.MicroTime{Time: time.Now().Add(-time.Hour)}
	items := []ordersv1alpha1.OrderSaga{
		{Status: ordersv1alpha1.OrderSagaStatus{Phase: ordersv1alpha1.PhaseCompleted}},
		{Status: ordersv1alpha1.OrderSagaStatus{Phase: ordersv1alpha1.PhaseRunning}},
		// Its timers were paused for most of the hour, or are paused now: the
		// deadline has not passed.
		{Spec: ordersv1alpha1.OrderSagaSpec{Deadline: "1m"}, Status: ordersv1alpha1.OrderSagaStatus{Phase: ordersv1alpha1.PhaseRunning,
			StartTime: old, TimersPausedFor: "59m30s"}},
		{Spec: ordersv1alpha1.OrderSagaSpec{Deadline: "1m"}, Status: ordersv1alpha1.OrderSagaStatus{Phase: ordersv1alpha1.PhaseRunning,
			StartTime: old, TimersPausedAt: &metav1.MicroTime{Time: old.Add(30 * time.Second)}}},
		{Spec: ordersv1alpha1.OrderSagaSpec{Deadline: "1m"}, Status: ordersv1alpha1.OrderSagaStatus{Phase: ordersv1alpha1.PhaseCompensating, StartTime: old}},
		{Spec: ordersv1alpha1.OrderSagaSpec{Deadline: "1m"}, Status: ordersv1alpha1.OrderSagaStatus{Phase: ordersv1alpha1.PhaseCompensated, StartTime: old}},
		{},
	}
	c := NewSagaCollector()
	c.SetReader(listReader(items))
	expected := `
# HELP ordersaga_sagas Sagas in the operator's cache by phase; finished sagas leave it once labelled orders.ordersaga.io/finished and are not counted.
# TYPE ordersaga_sagas gauge
ordersaga_sagas{phase="Compensated"} 1
ordersaga_sagas{phase="Compensating"} 1
ordersaga_sagas{phase="Completed"} 1
ordersaga_sagas{phase="Failed"} 0
ordersaga_sagas{phase="Pending"} 1
ordersaga_sagas{phase="Running"} 3
# HELP ordersaga_sagas_past_deadline Sagas not yet final whose spec.deadline has passed (Running or Compensating past it).
# TYPE ordersaga_sagas_past_deadline gauge
ordersaga_sagas_past_deadline 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(expected)); err != nil {
		t.Fatal(err)
	}
}
