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
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// smallSaga is a small OrderSaga of three steps.
func smallSaga(ns, name, customer string) *ordersv1alpha1.OrderSaga {
	retry := ordersv1alpha1.RetryPolicy{MaxAttempts: 3, InitialDelay: "1s", Factor: 2, MaxDelay: "10s"}
	step := func(name, service, command, compensation string) ordersv1alpha1.SagaStep {
		return ordersv1alpha1.SagaStep{Name: name, Service: service, Command: ordersv1alpha1.Command{Name: command},
			Compensation: &ordersv1alpha1.Command{Name: compensation}, Timeout: "30s", Retry: retry}
	}
	return &ordersv1alpha1.OrderSaga{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: ordersv1alpha1.OrderSagaSpec{
			Order: ordersv1alpha1.Order{ID: "ORD-" + name, Customer: ordersv1alpha1.Customer{ID: customer},
				Items: []ordersv1alpha1.LineItem{{SKU: "SKU-1", Quantity: 1, UnitPrice: "10.00"}},
				Total: ordersv1alpha1.Money{Amount: "10.00", Currency: "EUR"}},
			Steps: []ordersv1alpha1.SagaStep{
				step("reserve-inventory", "inventory", "ReserveInventory", "ReleaseInventory"),
				step("charge-payment", "payment", "ChargePayment", "RefundPayment"),
				step("schedule-shipment", "shipping", "ScheduleShipment", "CancelShipment"),
			},
		},
	}
}

// heldService takes commands and never answers.
const heldService = "held"

// heldSaga reserves stock, then waits on a service that never answers.
func heldSaga(ns, name string) *ordersv1alpha1.OrderSaga {
	s := smallSaga(ns, name, "CUST-OK")
	s.Spec.Steps = s.Spec.Steps[:2]
	s.Spec.Steps[1] = ordersv1alpha1.SagaStep{Name: "wait", Service: heldService, Command: ordersv1alpha1.Command{Name: "Wait"},
		Timeout: "24h", Retry: s.Spec.Steps[1].Retry}
	return s
}

// stepTransitions counts a saga's changes of step state from its final
// status: each step went Pending → Running → outcome, and a compensated one
// on through Compensating → Compensated; a skipped one Pending → Skipped.
func stepTransitions(s *ordersv1alpha1.OrderSaga) int {
	n := 0
	for _, rec := range s.Status.Steps {
		switch rec.State {
		case ordersv1alpha1.StepSkipped:
			n++
		case ordersv1alpha1.StepCompensated, ordersv1alpha1.StepCompensationFailed:
			n += 4
		default:
			n += 2
		}
	}
	return n
}

// throughput runs n sagas, a fifth of them compensating, and measures.
// If profile is set, the apiserver's CPU profile over 10 s of the run is
// saved there.
func (b *bench) throughput(n int, res *Results, profile string) error {
	ns, err := b.namespace("throughput")
	if err != nil {
		return err
	}
	snapshot, allFinal, stop, err := b.watchFinal(ns, n)
	if err != nil {
		return err
	}
	defer stop()
	before, err := b.scrape()
	if err != nil {
		return err
	}
	cpuBefore := b.cpuByComponent()
	created := make([]time.Time, n)
	start := time.Now()
	if err := parallel(16, n, func(i int) error {
		customer := "CUST-OK"
		if i%5 == 0 {
			customer = "CUST-DECLINED"
		}
		created[i] = time.Now()
		return b.k8s.Create(b.ctx, smallSaga(ns, fmt.Sprintf("order-%05d", i), customer))
	}); err != nil {
		return fmt.Errorf("create sagas: %w", err)
	}
	// Profiled once every saga is created: the steady state of step
	// transitions, not the burst of creates.
	if profile != "" {
		go func() {
			if err := b.profileAPIServer(10, profile); err != nil {
				fmt.Fprintln(os.Stderr, "    apiserver profile:", err)
			}
		}()
	}
	select {
	case <-allFinal:
	case <-b.ctx.Done():
		return b.ctx.Err()
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("sagas not final after 10 minutes")
	}
	last := start
	finals := snapshot()
	var toFinal []float64
	for i := range n {
		t := finals[fmt.Sprintf("order-%05d", i)]
		toFinal = append(toFinal, t.Sub(created[i]).Seconds())
		if t.After(last) {
			last = t
		}
	}
	after, err := b.scrape()
	if err != nil {
		return err
	}
	cpuAfter := b.cpuByComponent()
	total := 0.0
	res.CPUShare = map[string]float64{}
	for name, t := range cpuAfter {
		res.CPUShare[name] = t - cpuBefore[name]
		total += t - cpuBefore[name]
	}
	for name := range res.CPUShare {
		res.CPUShare[name] /= total
	}
	res.CPUUsed = total / last.Sub(start).Seconds()

	list := &ordersv1alpha1.OrderSagaList{}
	if err := b.k8s.List(b.ctx, list, client.InNamespace(ns)); err != nil {
		return err
	}
	res.Sagas = n
	res.Elapsed = last.Sub(start).Seconds()
	res.CreateToFinal = percentiles(toFinal)
	summarize(res, list.Items, before, after)
	return nil
}

// summarize fills the throughput results from the final sagas and the
// operator's metrics before and after the run.
func summarize(res *Results, sagas []ordersv1alpha1.OrderSaga, before, after map[string]*dto.MetricFamily) {
	stepTimes := map[string][]float64{}
	for i := range sagas {
		s := &sagas[i]
		whole, _ := json.Marshal(s)
		status, _ := json.Marshal(s.Status)
		managed, _ := json.Marshal(s.ManagedFields)
		res.ObjectBytes += len(whole)
		res.StatusBytes += len(status)
		res.ManagedFieldsBytes += len(managed)
		res.StepTransitions += stepTransitions(s)
		if s.Status.Phase == ordersv1alpha1.PhaseCompensated {
			res.Compensated++
		}
		for _, rec := range s.Status.Steps {
			if rec.StartedAt != nil && rec.CompletedAt != nil &&
				(rec.State == ordersv1alpha1.StepSucceeded || rec.State == ordersv1alpha1.StepFailed) {
				stepTimes[rec.Name] = append(stepTimes[rec.Name], rec.CompletedAt.Sub(rec.StartedAt.Time).Seconds())
			}
		}
	}
	if len(sagas) > 0 { // sums so far: the means
		res.ObjectBytes, res.StatusBytes, res.ManagedFieldsBytes =
			res.ObjectBytes/len(sagas), res.StatusBytes/len(sagas), res.ManagedFieldsBytes/len(sagas)
	}
	res.SagasPerSecond = float64(res.Sagas) / res.Elapsed
	res.TransitionsPerSecond = float64(res.StepTransitions) / res.Elapsed
	res.StatusWrites = int(value(after, "ordersaga_status_writes_total", nil) - value(before, "ordersaga_status_writes_total", nil))
	res.WritesPerTransition = float64(res.StatusWrites) / float64(res.StepTransitions)
	res.CeilingRatio = res.TransitionsPerSecond / res.WritesPerSecond
	res.OperatorRequests = map[string]int{}
	writes := res.Sagas // the creates
	for _, method := range []string{"GET", "LIST", methodPatch, "POST", methodPut, "DELETE"} {
		labels := map[string]string{"method": method}
		if d := int(value(after, "rest_client_requests_total", labels) - value(before, "rest_client_requests_total", labels)); d > 0 {
			res.OperatorRequests[method] = d
			if method != "GET" && method != "LIST" {
				writes += d
			}
		}
	}
	res.RequestsPerSaga = float64(writes) / float64(res.Sagas)
	res.Steps = map[string]Percentiles{}
	for name, times := range stepTimes {
		res.Steps[name] = percentiles(times)
	}
}

// watchFinal watches the sagas of a namespace and records when each is first
// seen final; the channel closes when n are.
func (b *bench) watchFinal(ns string, n int) (func() map[string]time.Time, <-chan struct{}, func(), error) {
	ctx, stop := context.WithCancel(b.ctx)
	var mu sync.Mutex
	finals := map[string]time.Time{}
	allFinal := make(chan struct{})
	events, err := b.watchSagas(ctx, client.InNamespace(ns))
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	go func() {
		for s := range events {
			if !s.Status.Phase.IsFinal() {
				continue
			}
			mu.Lock()
			if _, seen := finals[s.Name]; !seen {
				finals[s.Name] = time.Now()
				if len(finals) == n {
					close(allFinal)
				}
			}
			mu.Unlock()
		}
	}()
	snapshot := func() map[string]time.Time {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(finals)
	}
	return snapshot, allFinal, stop, nil
}

// watchSagas sends every state of the sagas listed by opts that a watch
// sees, until ctx ends. The apiserver may close a watch at any time (it
// does when it reloads a CRD the benchmark has just changed): the watch is
// then opened again without a resource version, which starts with the
// current state of every saga, so no final state is missed.
func (b *bench) watchSagas(ctx context.Context, opts ...client.ListOption) (<-chan *ordersv1alpha1.OrderSaga, error) {
	wc, err := client.NewWithWatch(b.cfg, client.Options{Scheme: b.k8s.Scheme()})
	if err != nil {
		return nil, err
	}
	w, err := wc.Watch(ctx, &ordersv1alpha1.OrderSagaList{}, opts...)
	if err != nil {
		return nil, err
	}
	out := make(chan *ordersv1alpha1.OrderSaga, 64)
	go func() {
		defer close(out)
		for {
			for ev := range w.ResultChan() {
				if s, ok := ev.Object.(*ordersv1alpha1.OrderSaga); ok && ev.Type != watch.Deleted {
					select {
					case out <- s:
					case <-ctx.Done():
					}
				}
			}
			w.Stop()
			for ctx.Err() == nil {
				if w, err = wc.Watch(ctx, &ordersv1alpha1.OrderSagaList{}, opts...); err == nil {
					break
				}
				select { // a retry's pause, while the apiserver recovers
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
			if ctx.Err() != nil {
				return
			}
		}
	}()
	return out, nil
}

// inFlight brings the sagas held in flight to n, then measures the
// operator's memory and what one reconcile of a saga costs, by touching
// 1,000 of them (an annotation, which wakes their reconcile and changes
// nothing else).
func (b *bench) inFlight(n int) (InFlightResult, error) {
	ns, err := b.namespace(fmt.Sprintf("held-%d", n))
	if err != nil {
		return InFlightResult{}, err
	}
	missing := n - b.held
	b.held = n
	base, err := b.heldAttempts()
	if err != nil {
		return InFlightResult{}, err
	}
	if err := parallel(16, missing, func(i int) error {
		s := heldSaga(ns, fmt.Sprintf("held-%05d", i))
		s.Labels = map[string]string{"bench": heldService}
		return b.k8s.Create(b.ctx, s)
	}); err != nil {
		return InFlightResult{}, fmt.Errorf("create held sagas: %w", err)
	}
	if err := b.waitHeld(base, missing); err != nil {
		return InFlightResult{}, err
	}

	list := &ordersv1alpha1.OrderSagaList{}
	if err := b.k8s.List(b.ctx, list, client.MatchingLabels{"bench": heldService}, client.Limit(1000)); err != nil {
		return InFlightResult{}, err
	}
	before, err := b.scrape()
	if err != nil {
		return InFlightResult{}, err
	}
	reconcile := map[string]string{"controller": sagaController}
	cpuBefore := b.cpuSeconds()
	touched := len(list.Items)
	stamp := time.Now().Format(time.RFC3339Nano)
	if err := parallel(16, touched, func(i int) error {
		s := &list.Items[i]
		patch := client.MergeFrom(s.DeepCopy())
		metav1.SetMetaDataAnnotation(&s.ObjectMeta, "bench.ordersaga.io/touched", stamp)
		return b.k8s.Patch(b.ctx, s, patch)
	}); err != nil {
		return InFlightResult{}, fmt.Errorf("touch sagas: %w", err)
	}
	var after map[string]float64
	if err := waitFor(b.ctx, 5*time.Minute, func() bool {
		f, err := b.scrape()
		if err != nil {
			return false
		}
		after = map[string]float64{
			"count": value(f, "controller_runtime_reconcile_time_seconds", reconcile),
			"sum":   histogramSum(f, "controller_runtime_reconcile_time_seconds", reconcile),
			"heap":  value(f, "go_memstats_heap_inuse_bytes", nil),
		}
		return after["count"]-value(before, "controller_runtime_reconcile_time_seconds", reconcile) >= float64(touched)
	}); err != nil {
		return InFlightResult{}, fmt.Errorf("touched sagas not reconciled: %w", err)
	}
	cpu := b.cpuSeconds() - cpuBefore
	count := after["count"] - value(before, "controller_runtime_reconcile_time_seconds", reconcile)
	sum := after["sum"] - histogramSum(before, "controller_runtime_reconcile_time_seconds", reconcile)
	return InFlightResult{
		Sagas:             n,
		RSSMiB:            b.rssMiB(),
		HeapMiB:           after["heap"] / (1 << 20),
		ReconcileMs:       sum / count * 1000,
		CPUMsPerReconcile: cpu / count * 1000,
	}, nil
}

// heldAttempts counts the commands the operator has sent to the held
// service since it started.
func (b *bench) heldAttempts() (int, error) {
	f, err := b.scrape()
	if err != nil {
		return 0, err
	}
	return int(value(f, "ordersaga_step_attempts_total", map[string]string{"service": heldService, "kind": "command"})), nil
}

// waitHeld waits until n more sagas than base are held in flight. Every
// held saga waits on its second step once its command has gone to the held
// service: count those from the operator's metrics, which is cheaper than
// listing thousands of sagas.
func (b *bench) waitHeld(base, n int) error {
	shown, waiting := newProgress(), 0
	err := waitFor(b.ctx, 15*time.Minute, func() bool {
		attempts, err := b.heldAttempts()
		if err != nil {
			return false
		}
		waiting = attempts - base
		shown.show("%d of %d sagas in flight", waiting, n)
		return waiting >= n
	})
	shown.done("%d of %d sagas in flight", waiting, n)
	if err != nil {
		return fmt.Errorf("sagas not in flight: %w", err)
	}
	return nil
}

func percentiles(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	slices.Sort(xs)
	at := func(q float64) float64 { return xs[min(int(q*float64(len(xs))), len(xs)-1)] }
	return Percentiles{P50: at(0.5), P90: at(0.9), P99: at(0.99)}
}

func printTable(r *Results) {
	fmt.Printf("\nordersaga-operator benchmark, %s, %s (%d CPUs), concurrency %d\n\n", r.Date, r.Machine, r.CPUs, r.Config.Concurrency)
	fmt.Println("| measure | value | target |")
	fmt.Println("|---|---|---|")
	row := func(name, value, target string) { fmt.Printf("| %s | %s | %s |\n", name, value, target) }
	if len(r.Variants) > 0 || len(r.InFlight) > 0 {
		printSpeed(r, row)
	}
	if w := r.WriteCost; w != nil {
		printWriteCost(w, row)
	}
	if f := r.Flood; f != nil {
		printFlood(f, row)
	}
	if m := r.Memory; m != nil {
		printMemory(m, row)
	}
}

// The targets for the speed runs.
const (
	requestsPerSagaTarget = 5.5
	baselineRatioTarget   = 2.0
	floorRatioTarget      = 0.8
)

// printSpeed prints the ceilings, each variant's throughput and light load,
// the in-flight rows, and the targets.
func printSpeed(r *Results, row func(name, value, target string)) {
	for _, c := range r.Ceilings {
		row(fmt.Sprintf("ceiling, %d writers: apiserver creates/s, status writes/s", c.Writers),
			fmt.Sprintf("%.0f, %.0f (%d conflicts)", c.CreatesPerSecond, c.WritesPerSecond, c.Conflicts), "")
	}
	row("saga floor F = 1 ÷ (1/creates + 4/status writes), best of each", fmt.Sprintf("%.1f sagas/s (%.0f creates/s, %.0f writes/s)",
		r.SagaFloor, r.CreatesPerSecond, r.WritesPerSecond), "")
	row("ceiling: broker round trips/s; one round trip alone p50 / p99", fmt.Sprintf("%.0f; %.1f / %.1f ms",
		r.BrokerRoundTripsPerSecond, r.BrokerRoundTrip.P50*1000, r.BrokerRoundTrip.P99*1000), "")
	for _, v := range r.Variants {
		printVariant(v, row)
	}
	row("status writes per step transition (this tree)", fmt.Sprintf("%.2f (%d / %d)", r.WritesPerTransition, r.StatusWrites, r.StepTransitions), "≤ 1.0")
	shares := make([]string, 0, len(r.CPUShare))
	for name, share := range r.CPUShare {
		shares = append(shares, fmt.Sprintf("%s %.0f%%", name, share*100))
	}
	slices.Sort(shares)
	row("CPU during the run (this tree)", fmt.Sprintf("%.2f cores busy: %s", r.CPUUsed, strings.Join(shares, ", ")), "")
	for _, f := range r.InFlight {
		row(fmt.Sprintf("%d in flight: RSS / Go heap", f.Sagas), fmt.Sprintf("%.0f MiB / %.0f MiB", f.RSSMiB, f.HeapMiB), "< 256 MiB RSS")
		row(fmt.Sprintf("%d in flight: reconcile time / CPU per saga", f.Sagas), fmt.Sprintf("%.2f ms / %.2f ms", f.ReconcileMs, f.CPUMsPerReconcile), "flat")
	}
	if len(r.InFlight) == 2 && r.InFlight[0].CPUMsPerReconcile > 0 {
		row("per-saga cost, many ÷ few in flight", fmt.Sprintf("%.2f (CPU), %.2f (time)",
			r.InFlight[1].CPUMsPerReconcile/r.InFlight[0].CPUMsPerReconcile, r.InFlight[1].ReconcileMs/r.InFlight[0].ReconcileMs), "≈ 1")
	}
	printTargets(r, row)
}

// printVariant prints one variant's runs.
func printVariant(v VariantResult, row func(name, value, target string)) {
	if len(v.Runs) > 0 {
		printRuns(v, row)
	}
	if l := v.Light; l != nil {
		row(v.Name+": light load, create → final p50 / p99", fmt.Sprintf("%.1f / %.1f ms", l.CreateToFinal.P50*1000, l.CreateToFinal.P99*1000), "")
		row(v.Name+": light load, where it goes (p50)", fmt.Sprintf("start %.1f ms, steps %.1f ms (each %.1f, %.1f over the broker's round trip), end %.1f ms",
			l.Start.P50*1000, l.Steps.P50*1000, l.Step.P50*1000, l.StepOverhead*1000, l.End.P50*1000), "")
		row(v.Name+": light load, the operator's means", fmt.Sprintf("PATCH or PUT %.1f ms, work-queue wait %.1f ms, reconcile %.1f ms, %.1f reconciles per saga",
			l.WriteLatency*1000, l.QueueWait*1000, l.ReconcileTime*1000, l.ReconcilesPerSaga), "")
		var parts []string
		for _, p := range l.PassSteps {
			if p.Mean*p.PerSaga >= minPassStepShown {
				parts = append(parts, fmt.Sprintf("%s %.1f ms × %.1f", p.Name, p.Mean*1000, p.PerSaga))
			}
		}
		row(v.Name+": light load, per saga in the pass's steps (mean × calls)", strings.Join(parts, ", "), "")
	}
}

// minPassStepShown hides the pass's steps that cost a saga less than this.
const minPassStepShown = 0.0002

// printRuns prints one variant's throughput runs.
func printRuns(v VariantResult, row func(name, value, target string)) {
	rates := make([]string, len(v.Runs))
	for i, run := range v.Runs {
		rates[i] = fmt.Sprintf("%.1f", run.SagasPerSecond)
	}
	m := medianRun(v.Runs)
	row(v.Name+": sagas/s (each run)", fmt.Sprintf("**%.1f** (%s)", m.SagasPerSecond, strings.Join(rates, ", ")), "")
	row(v.Name+": apiserver writes per saga", fmt.Sprintf("%.2f: create 1, status %.2f, other %s",
		m.RequestsPerSaga, float64(m.StatusWrites)/float64(m.Sagas), otherWrites(m)), "")
	row(v.Name+": create → final p50 / p90 / p99 (all created at once)", ms(m.CreateToFinal), "")
	row(v.Name+": CPU per saga", cpuPerSaga(m), "")
	row(v.Name+": a final saga as JSON: whole, status, managedFields", fmt.Sprintf("%d, %d, %d bytes",
		m.ObjectBytes, m.StatusBytes, m.ManagedFieldsBytes), "")
}

// cpuPerSaga is the CPU time each component spent per saga during a run:
// what sizes a larger installation.
func cpuPerSaga(r *Results) string {
	names := []string{componentAPIServer, componentEtcd, "operator", "rabbitmq"}
	parts := make([]string, 0, len(names))
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %.1f ms", name, r.CPUShare[name]*r.CPUUsed*r.Elapsed/float64(r.Sagas)*1000))
	}
	return fmt.Sprintf("%s (%.2f cores busy)", strings.Join(parts, ", "), r.CPUUsed)
}

// otherWrites describes a run's writes besides the creates and status
// writes: PATCH (finalizer, retirement, Event series), POST (Events), PUT
// and DELETE, per saga. The status writes are PUTs or PATCHes, by the
// operator's version: they are taken from the PUTs first.
func otherWrites(r *Results) string {
	var parts []string
	statusLeft := r.StatusWrites
	for _, method := range []string{methodPut, methodPatch, "POST", "DELETE"} {
		n := r.OperatorRequests[method]
		if method == methodPut || method == methodPatch {
			taken := min(n, statusLeft)
			n, statusLeft = n-taken, statusLeft-taken
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f", method, float64(n)/float64(r.Sagas)))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// printTargets prints the targets with this tree's values.
func printTargets(r *Results, row func(name, value, target string)) {
	if len(r.Variants) == 0 {
		return
	}
	this := r.Variants[0]
	if len(this.Runs) == 0 {
		return
	}
	m := medianRun(this.Runs)
	row("**target: apiserver writes per saga**", fmt.Sprintf("%.2f %s", m.RequestsPerSaga, verdict(m.RequestsPerSaga <= requestsPerSagaTarget)),
		fmt.Sprintf("≤ %.1f", requestsPerSagaTarget))
	for _, v := range r.Variants[1:] {
		if v.Ref == "" || len(v.Runs) == 0 {
			continue
		}
		ratio := m.SagasPerSecond / medianRun(v.Runs).SagasPerSecond
		row("**target: sagas/s, this tree ÷ "+v.Name+"**", fmt.Sprintf("%.2f %s", ratio, verdict(ratio >= baselineRatioTarget)),
			fmt.Sprintf("≥ %.1f", baselineRatioTarget))
	}
	if r.SagaFloor > 0 {
		ratio := m.SagasPerSecond / r.SagaFloor
		row("**target: sagas/s ÷ saga floor F**", fmt.Sprintf("%.2f %s", ratio, verdict(ratio >= floorRatioTarget)),
			fmt.Sprintf("≥ %.1f", floorRatioTarget))
	}
	if l := this.Light; l != nil {
		ok := l.CreateToFinal.P50 <= lightP50Target.Seconds() && l.CreateToFinal.P99 <= lightP99Target.Seconds()
		row("**target: light load create → final p50 / p99**", fmt.Sprintf("%.1f / %.1f ms %s",
			l.CreateToFinal.P50*1000, l.CreateToFinal.P99*1000, verdict(ok)),
			fmt.Sprintf("≤ %d / %d ms", lightP50Target.Milliseconds(), lightP99Target.Milliseconds()))
	}
	row("**target: status writes per step transition**", fmt.Sprintf("%.2f %s", m.WritesPerTransition, verdict(m.WritesPerTransition <= 1)), "≤ 1.0")
}

// verdict is a target's outcome as the table prints it.
func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISSED"
}

// printMemory prints the memory run's rows.
func printMemory(m *MemoryResult, row func(name, value, target string)) {
	footprint := func(f Footprint) string {
		return fmt.Sprintf("%.1f MiB / %.1f MiB, %d sagas cached", f.RSSMiB, f.HeapMiB, f.CachedSagas)
	}
	row(fmt.Sprintf("memory: %d in flight alone: settled RSS / Go heap", m.InFlight), footprint(m.InFlightOnly), "")
	row(fmt.Sprintf("memory: %d in flight + %d finished: settled RSS / Go heap", m.InFlight, m.Finished+m.Completed),
		footprint(m.WithFinished), "")
	row("memory: finished sagas", fmt.Sprintf("%d created labelled finished; %d completed through the operator: "+
		"%d labelled, %d deleted, %d not labelled (still cached)",
		m.Finished, m.Completed, m.CompletedLabelled, m.CompletedDeleted, m.CompletedUnlabelled), "")
	verdict := "PASS"
	if !m.Pass {
		verdict = "FAIL"
	}
	row("memory: RSS with finished ÷ in flight alone", fmt.Sprintf("%.3f %s", m.Ratio, verdict), fmt.Sprintf("≤ %.2f", m.Target))
}

func ms(p Percentiles) string {
	return fmt.Sprintf("%.0f / %.0f / %.0f ms", p.P50*1000, p.P90*1000, p.P99*1000)
}
