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
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

var phases = []ordersv1alpha1.SagaPhase{ordersv1alpha1.PhasePending, ordersv1alpha1.PhaseRunning,
	ordersv1alpha1.PhaseCompensating, ordersv1alpha1.PhaseCompleted, ordersv1alpha1.PhaseCompensated,
	ordersv1alpha1.PhaseFailed}

// SagaCollector reports the sagas by phase, and those past their deadline,
// counted at scrape time from the informer cache: in memory, without a
// request to the apiserver, and outside the reconcile path. The cache holds
// no saga labelled finished, so neither do these counts.
type SagaCollector struct {
	mu     sync.Mutex
	reader client.Reader

	byPhase      *prometheus.Desc
	pastDeadline *prometheus.Desc
}

// NewSagaCollector returns a collector with no reader yet: it reports
// nothing until SetReader.
func NewSagaCollector() *SagaCollector {
	return &SagaCollector{
		byPhase: prometheus.NewDesc("ordersaga_sagas", "Sagas in the operator's cache by phase; "+
			"finished sagas leave it once labelled "+ordersv1alpha1.FinishedLabel+" and are not counted.", []string{"phase"}, nil),
		pastDeadline: prometheus.NewDesc("ordersaga_sagas_past_deadline",
			"Sagas not yet final whose spec.deadline has passed (Running or Compensating past it).", nil, nil),
	}
}

// SetReader sets the reader (a manager's cache) the collector counts from.
func (c *SagaCollector) SetReader(r client.Reader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reader = r
}

// Describe implements prometheus.Collector.
func (c *SagaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.byPhase
	ch <- c.pastDeadline
}

// Collect implements prometheus.Collector.
func (c *SagaCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	reader := c.reader
	c.mu.Unlock()
	if reader == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list := &ordersv1alpha1.OrderSagaList{}
	// The cache's objects are read, not copied: nothing here changes them.
	if err := reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(c.byPhase, err)
		return
	}
	counts := map[ordersv1alpha1.SagaPhase]int{}
	past := 0
	now := time.Now()
	for i := range list.Items {
		st := &list.Items[i].Status
		phase := st.Phase
		if phase == "" {
			phase = ordersv1alpha1.PhasePending
		}
		counts[phase]++
		if deadline, ok := saga.Deadline(&list.Items[i], now); ok && !phase.IsFinal() && now.After(deadline) {
			past++
		}
	}
	for _, p := range phases {
		ch <- prometheus.MustNewConstMetric(c.byPhase, prometheus.GaugeValue, float64(counts[p]), string(p))
	}
	ch <- prometheus.MustNewConstMetric(c.pastDeadline, prometheus.GaugeValue, float64(past))
}

var (
	defaultSagas     = NewSagaCollector()
	registerSagaOnce sync.Once
	registerSagaErr  error
)

// DefaultSagaCollector returns the process's saga collector, registered once
// with controller-runtime's registry.
func DefaultSagaCollector() (*SagaCollector, error) {
	registerSagaOnce.Do(func() { registerSagaErr = ctrlmetrics.Registry.Register(defaultSagas) })
	return defaultSagas, registerSagaErr
}
