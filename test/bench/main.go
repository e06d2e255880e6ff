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
// and latencies. Then, with an operator of its own, it measures what
// finished sagas cost its memory: 1,000 sagas in flight alone, then with
// 50,000 finished sagas besides. Last, memory and per-saga reconcile cost
// with 1,000 and 10,000 sagas in flight. It prints one table and writes a
// JSON file. "make bench" runs it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
)

// Results is what the benchmark measured; it is also the JSON written.
type Results struct {
	Date    string `json:"date"`
	Machine string `json:"machine"`
	CPUs    int    `json:"cpus"`
	Config  Config `json:"config"`

	CreatesPerSecond          float64 `json:"apiserverCreatesPerSecond"`
	WritesPerSecond           float64 `json:"apiserverStatusWritesPerSecond"`
	BrokerRoundTripsPerSecond float64 `json:"brokerRoundTripsPerSecond"`

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
	// run, by method (POST is mostly Events).
	OperatorRequests map[string]int `json:"operatorRequests"`
	// CPUShare is each component's share of the CPU time spent during the
	// run, and CPUUsed the cores busy on average.
	CPUShare map[string]float64     `json:"cpuShare"`
	CPUUsed  float64                `json:"coresBusy"`
	Steps    map[string]Percentiles `json:"stepSeconds"`

	InFlight []InFlightResult `json:"inFlight"`

	// Memory is the footprint of finished sagas besides those in flight.
	Memory *MemoryResult `json:"memory,omitempty"`

	// PhaseEventsOnly is the throughput run again with --events=phases.
	PhaseEventsOnly *Results `json:"phaseEventsOnly,omitempty"`
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
	Finished       int    `json:"finished"`
	Completing     int    `json:"completing"`
	MemoryInFlight int    `json:"memoryInFlight"`
	MemoryOnly     bool   `json:"memoryOnly"`
	Out            string `json:"-"`
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
	flag.BoolVar(&cfg.MemoryOnly, "memory-only", false, "Run only the memory run (no ceilings, throughput or footprint runs).")
	flag.StringVar(&cfg.Out, "out", "bench-results.json", "Where to write the results as JSON.")
	flag.StringVar(&cfg.APIServerProfile, "apiserver-profile", "", "Save the apiserver's CPU profile during the throughput run to this file.")
	flag.Parse()
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
	b.apiserverProfile = cfg.APIServerProfile
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

// runs runs the measurements in order: ceilings and throughput, memory
// (with an operator of its own, on an apiserver cleared of the earlier
// sagas), then the footprint with sagas in flight, which keeps that operator.
func (b *bench) runs(cfg Config, res *Results) (err error) {
	if !cfg.MemoryOnly {
		if err := b.speedRuns(cfg, res); err != nil {
			return err
		}
	}
	step(fmt.Sprintf("memory: %d sagas in flight, then %d finished besides", cfg.MemoryInFlight, cfg.Finished+cfg.Completing))
	if res.Memory, err = b.memory(cfg); err != nil || cfg.MemoryOnly {
		return err
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

// speedRuns measures the ceilings and the throughput.
func (b *bench) speedRuns(cfg Config, res *Results) (err error) {
	step("measuring the apiserver's write ceiling")
	if res.CreatesPerSecond, res.WritesPerSecond, err = b.apiserverCeiling(cfg.Concurrency); err != nil {
		return err
	}
	step("measuring the broker's round-trip ceiling")
	if res.BrokerRoundTripsPerSecond, err = b.brokerCeiling(cfg.Concurrency); err != nil {
		return err
	}
	step(fmt.Sprintf("running %d sagas, Events on phase changes only (--events=phases)", cfg.Sagas))
	if err := b.startOperator(cfg.Concurrency, "--events=phases"); err != nil {
		return err
	}
	// The operator declares the participants' queues: it runs first.
	step("starting the participants")
	if err := b.startParticipants(); err != nil {
		return err
	}
	res.PhaseEventsOnly = &Results{}
	if err := b.throughput(cfg.Sagas, res.PhaseEventsOnly); err != nil {
		return err
	}
	res.PhaseEventsOnly.WritesPerSecond = res.WritesPerSecond
	res.PhaseEventsOnly.CeilingRatio = res.PhaseEventsOnly.TransitionsPerSecond / res.WritesPerSecond
	b.stopOperator()
	step(fmt.Sprintf("running %d sagas with the default settings", cfg.Sagas))
	if err := b.startOperator(cfg.Concurrency); err != nil {
		return err
	}
	return b.throughput(cfg.Sagas, res)
}

func step(s string) { fmt.Fprintf(os.Stderr, "==> %s (%s)\n", s, time.Now().Format("15:04:05")) }

// buildManager builds the manager binary the benchmark runs.
func buildManager(dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd")
	cmd.Dir = controlplane.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build manager: %w\n%s", err, out)
	}
	return bin, nil
}

func newTopology() broker.Topology { return broker.Topology{Prefix: "bench-" + rand.String(5)} }
