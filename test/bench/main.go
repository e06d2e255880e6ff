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

// Command bench measures saga throughput and latency against the machine's
// ceiling: it starts a local control plane (envtest), measures the raw
// apiserver write rate and broker round-trip rate, then runs the operator
// (the real manager binary) with participants that reply at once, and
// measures sagas/s, step transitions/s, status writes per step transition
// and latencies. Then it compares the latency of valid replies with and
// without bad ones (forged saga headers) queued ahead of each, and what one
// write of a saga costs the apiserver beside a schemaless copy and a
// ConfigMap. Then, with an operator of its own, it measures what
// finished sagas cost its memory: 1,000 sagas in flight alone, then with
// 50,000 finished sagas besides. Last, memory and per-saga reconcile cost
// with 1,000 and 10,000 sagas in flight. It prints one table and writes a
// JSON file. "make bench" runs it.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/ordersaga/ordersaga-operator/internal/broker"
)

// Results is what the benchmark measured; it is also the JSON written.
type Results struct {
	Date    string `json:"date"`
	Machine string `json:"machine"`
	CPUs    int    `json:"cpus"`
	Config  Config `json:"config"`

	// Ceilings are the apiserver's raw write rates at each writer count;
	// CreatesPerSecond and WritesPerSecond the best of each, and SagaFloor
	// the F: 1 ÷ (1/creates + 4/status writes), what the apiserver
	// allows a three-step saga with nothing else written.
	Ceilings                  []Ceiling   `json:"apiserverCeilings,omitempty"`
	CreatesPerSecond          float64     `json:"apiserverCreatesPerSecond"`
	WritesPerSecond           float64     `json:"apiserverStatusWritesPerSecond"`
	SagaFloor                 float64     `json:"sagaFloorPerSecond,omitempty"`
	BrokerRoundTripsPerSecond float64     `json:"brokerRoundTripsPerSecond"`
	BrokerRoundTrip           Percentiles `json:"brokerRoundTripSeconds"`

	Sagas                int         `json:"sagas"`
	Compensated          int         `json:"compensated"`
	Elapsed              float64     `json:"elapsedSeconds"`
	SagasPerSecond       float64     `json:"sagasPerSecond"`
	StepTransitions      int         `json:"stepTransitions"`
	TransitionsPerSecond float64     `json:"stepTransitionsPerSecond"`
	StatusWrites         int         `json:"statusWrites"`
	WritesPerTransition  float64     `json:"statusWritesPerStepTransition"`
	CeilingRatio         float64     `json:"transitionsToWriteCeilingRatio"`
	CreateToFinal        Percentiles `json:"createToFinalSeconds"`
	// OperatorRequests counts the operator's apiserver requests during the
	// run, by method (POST is Events).
	OperatorRequests map[string]int `json:"operatorRequests"`
	// RequestsPerSaga is the apiserver writes per saga: its create and
	// every write the operator made (status, other patches, Events,
	// deletes), over the sagas of the run.
	RequestsPerSaga float64 `json:"apiserverWritesPerSaga"`
	// CPUShare is each component's share of the CPU time spent during the
	// run, and CPUUsed the cores busy on average.
	// ObjectBytes is a final saga's size as JSON, as the apiserver stores
	// it (the mean), of which StatusBytes its status and ManagedFieldsBytes
	// its managedFields: what each status write decodes and encodes.
	ObjectBytes        int                    `json:"objectBytes"`
	StatusBytes        int                    `json:"statusBytes"`
	ManagedFieldsBytes int                    `json:"managedFieldsBytes"`
	CPUShare           map[string]float64     `json:"cpuShare"`
	CPUUsed            float64                `json:"coresBusy"`
	Steps              map[string]Percentiles `json:"stepSeconds"`

	InFlight []InFlightResult `json:"inFlight"`

	// Flood is the latency of valid replies with bad ones ahead of them.
	Flood *FloodResult `json:"flood,omitempty"`
	// WriteCost is what one write of each kind costs the apiserver.
	WriteCost *WriteCostResult `json:"writeCost,omitempty"`

	// Memory is the footprint of finished sagas besides those in flight.
	Memory *MemoryResult `json:"memory,omitempty"`

	// Variants are the operators measured turn about in the same bench
	// (this tree first); the throughput fields above are this tree's median
	// run.
	Variants []VariantResult `json:"variants,omitempty"`
}

// VariantResult is one operator's throughput runs and light-load run.
type VariantResult struct {
	variant
	Runs  []*Results   `json:"runs"`
	Light *LightResult `json:"light,omitempty"`
}

// Percentiles of a latency, in seconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// InFlightResult is the operator's footprint with that many sagas in flight.
type InFlightResult struct {
	Sagas             int     `json:"sagas"`
	RSSMiB            float64 `json:"rssMiB"`
	HeapMiB           float64 `json:"heapInUseMiB"`
	ReconcileMs       float64 `json:"reconcileMillisecondsPerSaga"`
	CPUMsPerReconcile float64 `json:"cpuMillisecondsPerReconcile"`
}

// Config is the benchmark's settings.
type Config struct {
	Sagas       int `json:"sagas"`
	InFlight    int `json:"inFlight"`
	Concurrency int `json:"concurrency"`
	// Finished, Completing and MemoryInFlight size the memory run;
	// MemoryOnly skips every other run.
	Finished       int `json:"finished"`
	Completing     int `json:"completing"`
	MemoryInFlight int `json:"memoryInFlight"`
	// Runs names the parts to run: speed (ceilings, throughput, light
	// load), flood, writecost, memory, footprint.
	Runs string `json:"runs"`
	// Baseline is a git ref whose operator is run turn about with this
	// tree's; each of Also is extra flags of this tree's operator run as one
	// more variant; Rounds how often each variant's throughput run is made.
	Baseline string   `json:"baseline,omitempty"`
	Also     []string `json:"also,omitempty"`
	Rounds   int      `json:"rounds"`
	// Writers are the writer counts of the apiserver's ceiling runs.
	Writers    []int `json:"writers"`
	LightSagas int   `json:"lightSagas"`
	// FloodRounds, FloodSagas and FloodAhead size the flood run: rounds of
	// each kind, sagas per round, bad replies ahead of each valid one.
	FloodRounds int `json:"floodRounds"`
	FloodSagas  int `json:"floodSagas"`
	FloodAhead  int `json:"floodAhead"`
	// WriteCostWrites is how many writes of each kind the write-cost run
	// makes.
	WriteCostWrites int    `json:"writeCostWrites"`
	Out             string `json:"-"`
	// APIServerProfile, if set, is where the apiserver's CPU profile during
	// the throughput runs is saved, for go tool pprof.
	APIServerProfile string `json:"-"`
}

func main() {
	var cfg Config
	flag.IntVar(&cfg.Sagas, "sagas", 1000, "Sagas of the throughput run (a fifth compensating).")
	flag.IntVar(&cfg.InFlight, "in-flight", 10000, "Sagas in flight for the memory and per-saga cost measurement.")
	flag.IntVar(&cfg.Concurrency, "concurrency", 8, "The operator's --max-concurrent-reconciles, and the ceiling runs' concurrency.")
	flag.IntVar(&cfg.Finished, "finished", 50000, "Sagas created labelled finished for the memory run.")
	flag.IntVar(&cfg.Completing, "completing", 300, "Sagas of the memory run run to completion through the operator.")
	flag.IntVar(&cfg.MemoryInFlight, "memory-in-flight", 1000, "Sagas held in flight during the memory run.")
	flag.StringVar(&cfg.Runs, "runs", "speed,flood,writecost,memory,footprint", "The parts to run: speed (ceilings, throughput, light load), flood, writecost, memory, footprint.")
	flag.StringVar(&cfg.Baseline, "baseline", "", "A git ref whose operator (its manager, CRDs and admission policies) runs turn about with this tree's, for before/after ratios within one run.")
	flag.Func("also", "Extra flags of this tree's operator, run as one more variant (e.g. --events=all); may be repeated.", func(v string) error {
		cfg.Also = append(cfg.Also, v)
		return nil
	})
	flag.IntVar(&cfg.Rounds, "rounds", 2, "Throughput runs of each variant, turn about.")
	flag.Func("writers", "Comma-separated writer counts of the apiserver's ceiling runs (default 8,16,32,64).", func(v string) error {
		cfg.Writers = nil
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return fmt.Errorf("not a writer count: %q", f)
			}
			cfg.Writers = append(cfg.Writers, n)
		}
		return nil
	})
	flag.IntVar(&cfg.LightSagas, "light-sagas", 100, "Sagas of the light-load run, one at a time.")
	flag.IntVar(&cfg.FloodRounds, "flood-rounds", 6, "Rounds of the flood run, each one without bad replies and one with them.")
	flag.IntVar(&cfg.FloodSagas, "flood-sagas", 20, "Sagas of each round of the flood run, created at once.")
	flag.IntVar(&cfg.WriteCostWrites, "write-cost-writes", 400, "Writes of each kind in the write-cost run, one at a time.")
	flag.IntVar(&cfg.FloodAhead, "flood-ahead", 7, "Bad replies queued just ahead of each valid reply in the flood run's flooded rounds.")
	flag.StringVar(&cfg.Out, "out", "bench-results.json", "Where to write the results as JSON.")
	flag.StringVar(&cfg.APIServerProfile, "apiserver-profile", "", "Save the apiserver's CPU profile over 10 s of each variant's first throughput run to this file, suffixed .0 (this tree), .1, ...")
	flag.Parse()
	if cfg.Writers == nil {
		cfg.Writers = []int{8, 16, 32, 64}
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(cfg Config) (err error) {
	// Ctrl-C stops the benchmark and still cleans up.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	b, err := newBench(ctx)
	if b != nil {
		// Also when newBench failed half-way: it may have started envtest.
		defer func() {
			if terr := b.teardown(); err == nil {
				err = terr
			}
		}()
	}
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	res := &Results{Date: time.Now().UTC().Format(time.RFC3339), Machine: host, CPUs: runtime.NumCPU(), Config: cfg}

	// What was measured is shown and kept also when a later run fails.
	err = b.runs(cfg, res)
	printTable(res)
	raw, _ := json.MarshalIndent(res, "", "  ")
	if werr := os.WriteFile(cfg.Out, append(raw, '\n'), 0o644); err == nil {
		err = werr
	}
	return err
}

// runs runs the measurements in order: ceilings, throughput and light
// load, the flood, the cost of one write, memory (with an operator of its
// own, on an apiserver cleared of the earlier sagas), then the footprint
// with sagas in flight, which keeps that operator.
func (b *bench) runs(cfg Config, res *Results) (err error) {
	parts := map[string]bool{}
	for p := range strings.SplitSeq(cfg.Runs, ",") {
		parts[strings.TrimSpace(p)] = true
	}
	if parts["speed"] {
		if err := b.speedRuns(cfg, res); err != nil {
			return err
		}
	}
	if parts["flood"] {
		if err := b.withOperator(thisTree(b.manager), cfg.Concurrency, func() (err error) {
			res.Flood, err = b.flood(cfg)
			return err
		}); err != nil {
			return err
		}
	}
	if parts["writecost"] {
		step(fmt.Sprintf("write cost: %d writes of each kind, one at a time", cfg.WriteCostWrites))
		if res.WriteCost, err = b.writeCost(cfg.WriteCostWrites); err != nil {
			return err
		}
	}
	// The memory and footprint runs measure this tree's operator.
	if err := b.useVariant(thisTree(b.manager)); err != nil {
		return err
	}
	if parts["memory"] {
		step(fmt.Sprintf("memory: %d sagas in flight, then %d finished besides", cfg.MemoryInFlight, cfg.Finished+cfg.Completing))
		if res.Memory, err = b.memory(cfg); err != nil {
			return err
		}
	}
	if !parts["footprint"] {
		return nil
	}
	if b.operator == nil {
		if err := b.startOperator(thisTree(b.manager), cfg.Concurrency); err != nil {
			return err
		}
	}
	for _, n := range []int{min(1000, cfg.InFlight), cfg.InFlight} {
		step(fmt.Sprintf("holding %d sagas in flight", n))
		r, err := b.inFlight(n)
		if err != nil {
			return err
		}
		res.InFlight = append(res.InFlight, r)
	}
	return nil
}

// speedRuns measures the ceilings, then each variant's throughput, turn
// about for cfg.Rounds rounds, and its latency at light load.
func (b *bench) speedRuns(cfg Config, res *Results) (err error) {
	for _, w := range cfg.Writers {
		step(fmt.Sprintf("measuring the apiserver's write ceiling with %d writers", w))
		c, err := b.apiserverCeiling(w)
		if err != nil {
			return err
		}
		res.Ceilings = append(res.Ceilings, c)
	}
	res.SagaFloor, res.CreatesPerSecond, res.WritesPerSecond = sagaFloor(res.Ceilings)
	step("measuring the broker's round-trip ceiling, and one round trip alone")
	if res.BrokerRoundTripsPerSecond, _, err = b.brokerCeiling(cfg.Concurrency, ceilingDuration); err != nil {
		return err
	}
	if _, res.BrokerRoundTrip, err = b.brokerCeiling(1, 3*time.Second); err != nil {
		return err
	}

	variants := []variant{thisTree(b.manager)}
	if cfg.Baseline != "" {
		step("building the baseline's manager at " + cfg.Baseline)
		v, err := b.buildBaseline(cfg.Baseline)
		if err != nil {
			return err
		}
		variants = append(variants, v)
	}
	for _, flags := range cfg.Also {
		v := thisTree(b.manager)
		v.Name, v.Args = "this tree "+flags, strings.Fields(flags)
		variants = append(variants, v)
	}
	res.Variants = make([]VariantResult, len(variants))
	for i, v := range variants {
		res.Variants[i].variant = v
	}
	for round := range cfg.Rounds {
		for k := range variants {
			// Turn about: each round starts with the variant the last one
			// ended with, so that neither always runs on a fresher etcd.
			i := k
			if round%2 == 1 {
				i = len(variants) - 1 - k
			}
			vr := &res.Variants[i]
			step(fmt.Sprintf("round %d: %d sagas, %s", round+1, cfg.Sagas, vr.Name))
			r := &Results{WritesPerSecond: res.WritesPerSecond}
			profile := ""
			if cfg.APIServerProfile != "" && round == 0 {
				profile = fmt.Sprintf("%s.%d", cfg.APIServerProfile, i)
			}
			if err := b.withOperator(vr.variant, cfg.Concurrency, func() error { return b.throughput(cfg.Sagas, r, profile) }); err != nil {
				return err
			}
			vr.Runs = append(vr.Runs, r)
		}
	}
	for i := range res.Variants {
		vr := &res.Variants[i]
		step(fmt.Sprintf("light load: %d sagas one at a time, %s", cfg.LightSagas, vr.Name))
		if err := b.withOperator(vr.variant, cfg.Concurrency, func() (err error) {
			vr.Light, err = b.lightLoad(cfg.LightSagas, res.BrokerRoundTrip)
			return err
		}); err != nil {
			return err
		}
	}
	// This tree's median run is the headline.
	if cfg.Rounds > 0 {
		mergeRun(res, medianRun(res.Variants[0].Runs))
	}
	return nil
}

// withOperator installs the variant's API, runs its operator (and, the
// first time, the participants, whose queues the operator declares), runs
// f, and stops the operator.
func (b *bench) withOperator(v variant, concurrency int, f func() error) error {
	if err := b.useVariant(v); err != nil {
		return err
	}
	if err := b.startOperator(v, concurrency); err != nil {
		return err
	}
	defer b.stopOperator()
	if b.participants == nil {
		step("starting the participants")
		if err := b.startParticipants(); err != nil {
			return err
		}
	}
	return f()
}

// medianRun is the run with the median sagas/s.
func medianRun(runs []*Results) *Results {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b *Results) int { return cmp.Compare(a.SagasPerSecond, b.SagasPerSecond) })
	return sorted[len(sorted)/2]
}

// mergeRun copies a throughput run's figures into res.
func mergeRun(res, run *Results) {
	res.Sagas, res.Compensated, res.Elapsed, res.SagasPerSecond = run.Sagas, run.Compensated, run.Elapsed, run.SagasPerSecond
	res.StepTransitions, res.TransitionsPerSecond, res.StatusWrites = run.StepTransitions, run.TransitionsPerSecond, run.StatusWrites
	res.WritesPerTransition, res.CeilingRatio, res.CreateToFinal = run.WritesPerTransition, run.CeilingRatio, run.CreateToFinal
	res.OperatorRequests, res.RequestsPerSaga, res.CPUShare, res.CPUUsed, res.Steps =
		run.OperatorRequests, run.RequestsPerSaga, run.CPUShare, run.CPUUsed, run.Steps
	res.ObjectBytes, res.StatusBytes, res.ManagedFieldsBytes = run.ObjectBytes, run.StatusBytes, run.ManagedFieldsBytes
}

func step(s string) { fmt.Fprintf(os.Stderr, "==> %s (%s)\n", s, time.Now().Format("15:04:05")) }

// buildManager builds the manager binary of the repository at root.
func buildManager(root, bin string) (string, error) {
	cmd := exec.Command("go", "build", "-o", bin, "./cmd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build manager: %w\n%s", err, out)
	}
	return bin, nil
}

func newTopology() broker.Topology { return broker.Topology{Prefix: "bench-" + rand.String(5)} }
