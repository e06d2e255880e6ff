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
	"context"
	"net/http"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/metricscrape"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/registry"
	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
	"github.com/ordersaga/ordersaga-operator/sdk/sagatrace"
)

// scrape reads the manager's metrics endpoint, as Prometheus does.
func scrape(g Gomega) map[string]*dto.MetricFamily {
	families, err := metricscrape.Scrape(running.metricsURL)
	g.Expect(err).NotTo(HaveOccurred())
	return families
}

var value = metricscrape.MetricValue

func readyz() int {
	resp, err := http.Get(running.readyzURL)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

type metricCheck struct {
	name    string
	labels  map[string]string
	atLeast float64
}

var _ = Describe("Observability", func() {
	It("exposes metrics that move as sagas complete and compensate", func() {
		var before map[string]*dto.MetricFamily
		Eventually(func(g Gomega) { before = scrape(g) }).Should(Succeed())
		ns := newNamespace()
		script.set(ns, "payment", func(cmd protocol.Command) *protocol.Reply {
			if cmd.Kind == protocol.KindCommand && cmd.Order.Customer.ID == "CUST-DECLINED" {
				return &protocol.Reply{Status: protocol.StatusFailed, Reason: "CardDeclined"}
			}
			return &protocol.Reply{Status: protocol.StatusSucceeded}
		})
		waitForPhase(createSaga(ns, "order-metered"), ordersv1alpha1.PhaseCompleted)
		waitForPhase(createSaga(ns, "order-metered-declined", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Order.Customer.ID = "CUST-DECLINED"
		}), ordersv1alpha1.PhaseCompensated)

		checks := []metricCheck{
			{"ordersaga_saga_duration_seconds", map[string]string{"outcome": "Completed"}, 1},
			{"ordersaga_saga_duration_seconds", map[string]string{"outcome": "Compensated"}, 1},
			{"ordersaga_step_duration_seconds", map[string]string{"service": "payment", "command": "ChargePayment", "outcome": "Failed"}, 1},
			{"ordersaga_step_duration_seconds", map[string]string{"service": "shipping", "command": "ScheduleShipment", "outcome": "Succeeded"}, 1},
			{"ordersaga_step_attempts_total", map[string]string{"service": "inventory", "command": "ReserveInventory", "kind": "command"}, 2},
			{"ordersaga_step_attempts_total", map[string]string{"service": "inventory", "command": "ReleaseInventory", "kind": "compensation"}, 1},
			{"ordersaga_compensations_total", map[string]string{"event": "started"}, 1},
			{"ordersaga_compensations_total", map[string]string{"event": "completed"}, 1},
			{"ordersaga_commands_published_total", map[string]string{"kind": "command"}, 5},
			{"ordersaga_commands_published_total", map[string]string{"kind": "compensation"}, 1},
			{"ordersaga_publish_confirm_duration_seconds", nil, 6},
			{"ordersaga_replies_received_total", map[string]string{"status": "succeeded"}, 5},
			{"ordersaga_replies_received_total", map[string]string{"status": "failed"}, 1},
			{"ordersaga_transitions_total", map[string]string{"reason": "Completed"}, 1},
			{"ordersaga_status_writes_total", nil, 7},
			{"ordersaga_mediator_dispatch_duration_seconds", map[string]string{"name": "PersistStatus", "outcome": "success"}, 7},
		}
		Eventually(func(g Gomega) {
			after := scrape(g)
			for _, c := range checks {
				g.Expect(value(after, c.name, c.labels)-value(before, c.name, c.labels)).To(
					BeNumerically(">=", c.atLeast), "%s%v", c.name, c.labels)
			}
			// Finished sagas leave the cache the gauge counts once their events
			// are out (docs/api.md#retention): outcomes are counters.
			g.Expect(value(after, "ordersaga_transitions_total", map[string]string{"reason": "Compensated"}) -
				value(before, "ordersaga_transitions_total", map[string]string{"reason": "Compensated"})).To(BeNumerically(">=", 1))
			g.Expect(value(after, "ordersaga_lifecycle_events_published_total", map[string]string{"type": "SagaCompleted"}) -
				value(before, "ordersaga_lifecycle_events_published_total", map[string]string{"type": "SagaCompleted"})).To(BeNumerically(">=", 1))
			g.Expect(value(after, "ordersaga_broker_connected", nil)).To(BeEquivalentTo(1))
		}).Should(Succeed())
	})

	It("is not ready while the broker connection is down, and ready again after it reconnects", func() {
		Eventually(readyz).Should(Equal(http.StatusOK))
		var before map[string]*dto.MetricFamily
		Eventually(func(g Gomega) { before = scrape(g) }).Should(Succeed())

		proxy.Break() // force-closes the operator's connections and refuses new ones
		Eventually(readyz).Should(Equal(http.StatusInternalServerError))
		Eventually(func(g Gomega) {
			g.Expect(value(scrape(g), "ordersaga_broker_connected", nil)).To(BeZero())
		}).Should(Succeed())

		proxy.Restore()
		Eventually(readyz).Should(Equal(http.StatusOK))
		Eventually(func(g Gomega) {
			after := scrape(g)
			g.Expect(value(after, "ordersaga_broker_connected", nil)).To(BeEquivalentTo(1))
			g.Expect(value(after, "ordersaga_broker_reconnects_total", nil) -
				value(before, "ordersaga_broker_reconnects_total", nil)).To(BeNumerically(">=", 1))
		}).Should(Succeed())
		waitForPhase(createSaga(newNamespace(), "order-after-outage"), ordersv1alpha1.PhaseCompleted)
	})

	It("carries the trace context to a participant and back on the reply", func() {
		var mu sync.Mutex
		var seen oteltrace.SpanContext
		Expect(registry.Register(ctx, k8sClient, topology.CommandExchange(), &ordersv1alpha1.Participant{
			ObjectMeta: metav1.ObjectMeta{Name: "audit"},
			Spec: ordersv1alpha1.ParticipantSpec{BrokerUser: "guest",
				Commands: []ordersv1alpha1.ParticipantCommand{{Name: "RecordOrder"}}},
		})).To(Succeed())
		p, err := participant.New(participant.Options{URL: rabbitmq.BrokerURL(), Service: "audit",
			CommandExchange: topology.CommandExchange()})
		Expect(err).NotTo(HaveOccurred())
		p.Handle("RecordOrder", func(ctx context.Context, _ *participant.Command) (participant.Result, error) {
			mu.Lock()
			defer mu.Unlock()
			seen = oteltrace.SpanContextFromContext(ctx)
			return nil, nil
		})
		pctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = p.Run(pctx) }()
		DeferCleanup(func() {
			stop()
			<-done
		})
		Eventually(p.Ready).Should(BeTrue())

		s := createSaga(newNamespace(), "order-traced", func(s *ordersv1alpha1.OrderSaga) {
			s.Spec.Steps = []ordersv1alpha1.SagaStep{{Name: "audit", Service: "audit",
				Command: ordersv1alpha1.Command{Name: "RecordOrder"}, Timeout: "5s"}}
		})
		done2 := waitForPhase(s, ordersv1alpha1.PhaseCompleted)
		traceID := sagatrace.SagaTraceID(string(done2.UID))

		mu.Lock()
		Expect(seen.TraceID()).To(Equal(traceID), "the participant's handler runs in the saga's trace")
		mu.Unlock()
		Eventually(func(g Gomega) {
			byName := map[string]trace.ReadOnlySpan{}
			for _, sp := range spans.Ended() {
				if sp.SpanContext().TraceID() == traceID {
					byName[sp.Name()] = sp
				}
			}
			publish, handle, reply := byName["publish audit.RecordOrder"], byName["handle audit.RecordOrder"], byName["receive reply"]
			g.Expect(publish).NotTo(BeNil())
			g.Expect(handle).NotTo(BeNil())
			g.Expect(reply).NotTo(BeNil())
			g.Expect(handle.Parent().SpanID()).To(Equal(publish.SpanContext().SpanID()), "the participant continues the operator's span")
			g.Expect(reply.Parent().SpanID()).To(Equal(handle.SpanContext().SpanID()), "the reply carries the participant's span back")
		}).Should(Succeed())
	})
})
