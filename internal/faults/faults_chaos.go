//go:build chaos

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

// Package faults holds the operator's crash points for fault injection.
package faults

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// The crash points, in the order a saga's messages meet them.
const (
	AfterStatusWrite = "after-status-write"
	AfterPublish     = "after-publish"
	ReplyReceived    = "reply-received"
	BeforeAck        = "before-ack"
)

var (
	once  sync.Once
	rates map[string]float64
)

// load reads ORDERSAGA_CHAOS, for example
// "after-status-write=0.05,before-ack=0.02".
func load() {
	rates = map[string]float64{}
	for _, part := range strings.Split(os.Getenv("ORDERSAGA_CHAOS"), ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		if p, err := strconv.ParseFloat(value, 64); err == nil {
			rates[name] = p
		}
	}
}

// Crash kills the process with SIGKILL at point, with the configured
// probability: no deferred function runs, no connection is closed politely.
func Crash(point string) {
	once.Do(load)
	if p := rates[point]; p > 0 && rand.Float64() < p { //nolint:gosec // fault injection dice
		_, _ = os.Stderr.WriteString("faults: crashing at " + point + "\n")
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never returns
	}
}
