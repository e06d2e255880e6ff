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
	"fmt"
	"strings"
	"testing"
)

// scaled is ten latencies, 1 to 10 ms, each times factor.
func scaled(factor float64) []float64 {
	out := make([]float64, 10)
	for i := range out {
		out[i] = float64(i+1) / 1000 * factor
	}
	return out
}

func TestSummarizeFloodJudgesTheP90Ratio(t *testing.T) {
	for _, c := range []struct {
		factor float64
		pass   bool
	}{{1, true}, {4, true}, {4.5, false}} {
		res := &FloodResult{}
		summarizeFlood(res, scaled(1), scaled(c.factor))
		if diff := res.P90Ratio - c.factor; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("flooded %g× slower: p90 ratio %g", c.factor, res.P90Ratio)
		}
		if res.Pass != c.pass || res.Target != floodP90RatioTarget {
			t.Errorf("flooded %g× slower: pass %t against %g, want %t against %g", c.factor, res.Pass, res.Target, c.pass, floodP90RatioTarget)
		}
	}

	res := &FloodResult{}
	summarizeFlood(res, nil, scaled(1))
	if res.Pass {
		t.Errorf("no latency without the flood measured, and yet PASS: %+v", res)
	}
}

func TestPrintFloodEndsWithTheTarget(t *testing.T) {
	res := &FloodResult{Rounds: 2, SagasPerRound: 3, Ahead: 7, BadReplies: 42}
	summarizeFlood(res, scaled(1), scaled(5))
	var rows []string
	printFlood(res, func(name, value, target string) {
		rows = append(rows, fmt.Sprintf("%s | %s | %s", name, value, target))
	})
	last := rows[len(rows)-1]
	if !strings.Contains(last, "target") || !strings.Contains(last, "5.00 MISSED") || !strings.HasSuffix(last, "≤ 4") {
		t.Errorf("last row %q, want the target, 5.00 MISSED against ≤ 4", last)
	}
}
