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

package mediator_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersaga/ordersaga-operator/internal/mediator"
)

var errStep = errors.New("step failed")

// Steps that make stepHandler succeed or fail.
const (
	stepOK   = "ok"
	stepFail = "fail"
)

// stepHandler succeeds or fails depending on the request's Step.
func stepHandler(_ context.Context, req SendCommand) (string, error) {
	if req.Step == stepFail {
		return "", errStep
	}
	return "sent", nil
}

func TestMetricsCountsOutcomes(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics, err := mediator.Metrics(reg)
	if err != nil {
		t.Fatalf("Metrics: %v", err)
	}
	b := mediator.NewBuilder()
	mediator.Handle(b, stepHandler)
	b.Use(metrics)
	send := mustSender[SendCommand, string](t, mustBuild(t, b))
	for _, step := range []string{stepOK, stepOK, stepOK, stepFail, stepFail} {
		_, _ = send(context.Background(), SendCommand{Step: step})
	}

	tests := []struct {
		outcome string
		want    uint64
	}{
		{mediator.OutcomeSuccess, 3},
		{mediator.OutcomeError, 2},
	}
	for _, tt := range tests {
		t.Run(tt.outcome, func(t *testing.T) {
			if got := sampleCount(t, reg, kindRequest, nameSendCommand, tt.outcome); got != tt.want {
				t.Errorf("sample count = %d, want %d", got, tt.want)
			}
		})
	}
	if n := seriesCount(t, reg); n != 2 {
		t.Errorf("histogram has %d label sets, want 2", n)
	}
}

func TestMetricsRegistration(t *testing.T) {
	t.Run("reuses an identical histogram already registered", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		first, err := mediator.Metrics(reg)
		if err != nil {
			t.Fatalf("first Metrics: %v", err)
		}
		second, err := mediator.Metrics(reg)
		if err != nil {
			t.Fatalf("second Metrics: %v", err)
		}
		info := mediator.Info{Kind: mediator.KindNotification, Name: nameStepCompleted}
		ok := func(context.Context) error { return nil }
		_ = first(context.Background(), info, ok)
		_ = second(context.Background(), info, ok)
		if got := sampleCount(t, reg, "notification", nameStepCompleted, mediator.OutcomeSuccess); got != 2 {
			t.Errorf("sample count = %d, want 2 (both behaviours share one histogram)", got)
		}
	})

	tests := []struct {
		name  string
		setup func(*prometheus.Registry)
	}{
		{
			name: "another collector under the same name",
			setup: func(reg *prometheus.Registry) {
				reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: mediator.DispatchDurationMetric}))
			},
		},
		{
			name: "a histogram with other labels",
			setup: func(reg *prometheus.Registry) {
				reg.MustRegister(prometheus.NewHistogramVec(
					prometheus.HistogramOpts{Name: mediator.DispatchDurationMetric}, []string{"name"}))
			},
		},
	}
	for _, tt := range tests {
		t.Run("fails with "+tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			tt.setup(reg)
			if _, err := mediator.Metrics(reg); err == nil {
				t.Error("Metrics succeeded, want a registration error")
			}
		})
	}

	t.Run("fails without a registerer", func(t *testing.T) {
		if _, err := mediator.Metrics(nil); err == nil {
			t.Error("Metrics(nil) succeeded, want an error")
		}
	})
}

// dispatchSeries gathers the dispatch histogram's series, keyed by their
// "kind/name/outcome" labels. It reads the gathered families directly:
// testutil.ToFloat64 reads only counters and gauges, and importing testutil
// would need a module (kylelemons/godebug) that go.mod does not list.
func dispatchSeries(t *testing.T, reg prometheus.Gatherer) map[string]uint64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	series := make(map[string]uint64)
	for _, f := range families {
		if f.GetName() != mediator.DispatchDurationMetric {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := make(map[string]string, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			key := labels["kind"] + "/" + labels["name"] + "/" + labels["outcome"]
			series[key] = m.GetHistogram().GetSampleCount()
		}
	}
	return series
}

// sampleCount is how many observations the dispatch histogram holds for one
// label set.
func sampleCount(t *testing.T, reg prometheus.Gatherer, kind, name, outcome string) uint64 {
	t.Helper()
	return dispatchSeries(t, reg)[kind+"/"+name+"/"+outcome]
}

func seriesCount(t *testing.T, reg prometheus.Gatherer) int {
	t.Helper()
	return len(dispatchSeries(t, reg))
}

// logLine is one funcr JSON line.
type logLine map[string]any

// captureLogs returns a context carrying a funcr logger at verbosity v, and
// the lines it has written so far.
func captureLogs(v int) (context.Context, func() []logLine) {
	var mu sync.Mutex
	var lines []logLine
	log := funcr.NewJSON(func(obj string) {
		var l logLine
		if err := json.Unmarshal([]byte(obj), &l); err != nil {
			l = logLine{"unparsable": obj}
		}
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, l)
	}, funcr.Options{Verbosity: v})
	return logr.NewContext(context.Background(), log), func() []logLine {
		mu.Lock()
		defer mu.Unlock()
		return append([]logLine(nil), lines...)
	}
}

func TestLogging(t *testing.T) {
	tests := []struct {
		name      string
		verbosity int
		step      string
		wantLines int
		wantError string
	}{
		{name: "success at V(1)", verbosity: 1, step: stepOK, wantLines: 1},
		{name: "error at V(1), not at error level", verbosity: 1, step: stepFail, wantLines: 1, wantError: errStep.Error()},
		{name: "nothing at V(0)", verbosity: 0, step: stepFail, wantLines: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mediator.NewBuilder()
			mediator.Handle(b, stepHandler)
			b.Use(mediator.Logging())
			send := mustSender[SendCommand, string](t, mustBuild(t, b))
			ctx, lines := captureLogs(tt.verbosity)

			_, _ = send(ctx, SendCommand{Step: tt.step})

			got := lines()
			if len(got) != tt.wantLines {
				t.Fatalf("logged %d lines, want %d: %v", len(got), tt.wantLines, got)
			}
			for _, l := range got {
				// funcr writes "level" only for Info lines: an Error line
				// would have none.
				if l["level"] != 1.0 {
					t.Errorf("level = %v, want 1 (V(1) info): %v", l["level"], l)
				}
				if l["msg"] != "Dispatched" || l["kind"] != kindRequest || l["name"] != nameSendCommand {
					t.Errorf("line = %v, want msg Dispatched, kind request, name SendCommand", l)
				}
				if _, ok := l["duration"]; !ok {
					t.Errorf("line = %v, want a duration", l)
				}
				errText, hasErr := l["error"].(string)
				if hasErr != (tt.wantError != "") || !strings.Contains(errText, tt.wantError) {
					t.Errorf("error = %q, want %q", errText, tt.wantError)
				}
			}
		})
	}
}

func TestStandard(t *testing.T) {
	reg := prometheus.NewRegistry()
	behaviours, err := mediator.Standard(reg)
	if err != nil {
		t.Fatalf("Standard: %v", err)
	}
	b := mediator.NewBuilder()
	b.Use(behaviours...)
	m := mustBuild(t, b)
	ctx, lines := captureLogs(1)

	_, err = mediator.Call(ctx, m, stepHandler, SendCommand{Step: stepFail})

	// Both behaviours see the step: Logging logs its error, Metrics counts it.
	if !errors.Is(err, errStep) {
		t.Errorf("err = %v, want %v", err, errStep)
	}
	if got := lines(); len(got) != 1 || got[0]["kind"] != "step" || !strings.Contains(got[0]["error"].(string), errStep.Error()) {
		t.Errorf("log lines = %v, want one step line with the error", got)
	}
	if got := sampleCount(t, reg, "step", nameSendCommand, mediator.OutcomeError); got != 1 {
		t.Errorf("error sample count = %d, want 1", got)
	}

	if _, err := mediator.Standard(nil); err == nil {
		t.Error("Standard(nil) succeeded, want an error")
	}
}
