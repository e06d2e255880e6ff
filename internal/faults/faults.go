//go:build !chaos

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
// In a normal build they compile to nothing; the fault-injection suite
// builds the manager with -tags chaos, where ORDERSAGA_CHAOS makes them kill
// the process (SIGKILL, no cleanup) at the named points, with the given
// probability.
package faults

// The crash points, in the order a saga's messages meet them.
const (
	// AfterStatusWrite: the status is written, nothing of the pass sent or
	// acknowledged yet.
	AfterStatusWrite = "after-status-write"
	// AfterPublish: a command is confirmed by the broker, not yet recorded
	// as sent by this process; the reply may come to the next one.
	AfterPublish = "after-publish"
	// ReplyReceived: a reply is taken from the broker, not yet processed.
	ReplyReceived = "reply-received"
	// BeforeAck: the status recording a reply is written, the reply not yet
	// acknowledged.
	BeforeAck = "before-ack"
)

// Crash kills the process at point when fault injection says so; in this
// build it does nothing.
func Crash(string) {}
