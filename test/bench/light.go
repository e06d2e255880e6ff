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

package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/mediator"
)

// The bounds on a saga's latency at light load (one at a time).
const (
	lightP50Target = 25 * time.Millisecond
	lightP99Target = 50 * time.Millisecond
)

// LightResult is the latency of sagas run one at a time, and where it goes.
type LightResult struct {
	Sagas int `json:"sagas"`
	// CreateToFinal is from the create request's start to the client's
	// watch seeing the saga final.
	CreateToFinal Percentiles `json:"createToFinalSeconds"`
	// Step is each step's time as the operator records it (startedAt to
	// completedAt), and StepOverhead that less the broker's round trip
	// (BrokerRoundTrip, measured alone at concurrency 1).
	Step            Percentiles `json:"stepSeconds"`
	BrokerRoundTrip Percentiles `json:"brokerRoundTripSeconds"`
	StepOverhead    float64     `json:"stepOverheadOverBrokerP50Seconds"`
	// The parts of create → final (p50 of each, so they need not add up):
	// Start is create request to the saga's startTime (the create, the
	// watch delivering it to the operator, queueing, the first pass up to
	// the machine); Steps the sum of the step times; End the saga's
	// completionTime to the client seeing it (the final status write and
	// the watch delivering it).
	Start Percentiles `json:"startSeconds"`
	Steps Percentiles `json:"stepsSeconds"`
	End   Percentiles `json:"endSeconds"`
	// Means from the operator's own metrics over the run: an apiserver
	// write of a saga (PATCH or PUT: its status writes and the retirement)
	// as its client sees it, a saga's wait in the work queue, and a
	// reconcile (which includes its status write).
	WriteLatency      float64 `json:"operatorWriteLatencySeconds"`
	QueueWait         float64 `json:"workQueueWaitSeconds"`
	ReconcileTime     float64 `json:"reconcileSeconds"`
	ReconcilesPerSaga float64 `json:"reconcilesPerSaga"`
	// PassSteps is where a reconcile's time goes: each step of the pass and
	// each notification handler, from the mediator's own histogram.
	PassSteps []PassStepCost `json:"passSteps"`
}

// PassStepCost is one mediator handler's mean time per call and its calls
// per saga over the light-load run.
type PassStepCost struct {
	Kind    string  `json:"kind"`
	Name    string  `json:"name"`
	Mean    float64 `json:"meanSeconds"`
	PerSaga float64 `json:"callsPerSaga"`
}

// passSteps reads the mediator's dispatch histogram between two scrapes,
// costliest per saga first.
func passSteps(before, after map[string]*dto.MetricFamily, sagas int) []PassStepCost {
	var out []PassStepCost
	f := after[mediator.DispatchDurationMetric]
	if f == nil {
		return nil
	}
	seen := map[[2]string]bool{}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			if l.GetName() == "kind" || l.GetName() == "name" {
				labels[l.GetName()] = l.GetValue()
			}
		}
		key := [2]string{labels["kind"], labels["name"]}
		if seen[key] {
			continue // the same handler with another outcome: summed below
		}
		seen[key] = true
		calls := value(after, mediator.DispatchDurationMetric, labels) - value(before, mediator.DispatchDurationMetric, labels)
		if calls == 0 {
			continue
		}
		out = append(out, PassStepCost{Kind: key[0], Name: key[1],
			Mean: meanOf(before, after, mediator.DispatchDurationMetric, labels), PerSaga: calls / float64(sagas)})
	}
	slices.SortFunc(out, func(a, b PassStepCost) int { return cmp.Compare(b.Mean*b.PerSaga, a.Mean*a.PerSaga) })
	return out
}

// lightLoad runs n sagas one after the other, each created once the one
// before is seen final, and measures their latency.
func (b *bench) lightLoad(n int, rtt Percentiles) (*LightResult, error) {
	ns, err := b.namespace("light")
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(b.ctx)
	defer stop()
	events, err := b.watchSagas(ctx, client.InNamespace(ns))
	if err != nil {
		return nil, err
	}
	before, err := b.scrape()
	if err != nil {
		return nil, err
	}
	res := &LightResult{Sagas: n, BrokerRoundTrip: rtt}
	var toFinal, steps, start, stepSums, end []float64
	for i := range n {
		name := fmt.Sprintf("light-%04d", i)
		created := time.Now()
		if err := b.k8s.Create(b.ctx, smallSaga(ns, name, "CUST-OK")); err != nil {
			return nil, err
		}
		final, seen, err := waitFinal(events, name)
		if err != nil {
			return nil, err
		}
		toFinal = append(toFinal, seen.Sub(created).Seconds())
		if final.Status.StartTime == nil || final.Status.CompletionTime == nil {
			return nil, fmt.Errorf("saga %s final without start or completion time", name)
		}
		start = append(start, final.Status.StartTime.Sub(created).Seconds())
		end = append(end, seen.Sub(final.Status.CompletionTime.Time).Seconds())
		sum := 0.0
		for _, rec := range final.Status.Steps {
			if rec.StartedAt != nil && rec.CompletedAt != nil {
				d := rec.CompletedAt.Sub(rec.StartedAt.Time).Seconds()
				steps = append(steps, d)
				sum += d
			}
		}
		stepSums = append(stepSums, sum)
	}
	after, err := b.scrape()
	if err != nil {
		return nil, err
	}
	res.CreateToFinal, res.Step, res.Start, res.Steps, res.End =
		percentiles(toFinal), percentiles(steps), percentiles(start), percentiles(stepSums), percentiles(end)
	res.StepOverhead = res.Step.P50 - rtt.P50
	res.WriteLatency = meanOfVerbs(before, after, "rest_client_request_duration_seconds", methodPatch, methodPut)
	res.QueueWait = meanOf(before, after, "workqueue_queue_duration_seconds", map[string]string{"name": sagaController})
	reconcile := map[string]string{"controller": sagaController}
	res.ReconcileTime = meanOf(before, after, "controller_runtime_reconcile_time_seconds", reconcile)
	res.ReconcilesPerSaga = (value(after, "controller_runtime_reconcile_time_seconds", reconcile) -
		value(before, "controller_runtime_reconcile_time_seconds", reconcile)) / float64(n)
	res.PassSteps = passSteps(before, after, n)
	return res, nil
}

// waitFinal reads the watched sagas until the saga name is final.
func waitFinal(events <-chan *ordersv1alpha1.OrderSaga, name string) (*ordersv1alpha1.OrderSaga, time.Time, error) {
	timeout := time.After(time.Minute)
	for {
		select {
		case s, ok := <-events:
			if !ok {
				return nil, time.Time{}, fmt.Errorf("watch ended waiting for %s", name)
			}
			if s.Name == name && s.Status.Phase.IsFinal() {
				return s, time.Now(), nil
			}
		case <-timeout:
			return nil, time.Time{}, fmt.Errorf("saga %s not final after a minute", name)
		}
	}
}

// meanOf is the mean of a histogram's observations between two scrapes,
// summed over the series matching labels.
func meanOf(before, after map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	count := value(after, name, labels) - value(before, name, labels)
	if count == 0 {
		return 0
	}
	return (histogramSum(after, name, labels) - histogramSum(before, name, labels)) / count
}

// meanOfVerbs is the mean of a request histogram's observations between two
// scrapes over the series of the given verbs.
func meanOfVerbs(before, after map[string]*dto.MetricFamily, name string, verbs ...string) float64 {
	count, sum := 0.0, 0.0
	for _, verb := range verbs {
		labels := map[string]string{"verb": verb}
		count += value(after, name, labels) - value(before, name, labels)
		sum += histogramSum(after, name, labels) - histogramSum(before, name, labels)
	}
	if count == 0 {
		return 0
	}
	return sum / count
}

// Label values of the operator's metrics the benchmark reads.
const (
	methodPut      = "PUT"
	methodPatch    = "PATCH"
	sagaController = "ordersaga"
)
