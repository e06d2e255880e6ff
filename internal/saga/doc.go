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

// Package saga is the saga state machine: pure code, no I/O, the clock passed
// in. Given an OrderSaga (spec and status), the time and an event, Apply
// updates the status and returns what to do next: commands to send and when
// to look again. The controller persists the status first and acts after, so
// that a crash between the two never loses a command (see
// docs/architecture.md).
//
// A step's command is sent, retried with backoff on a retryable failure or
// a timeout, and recorded as Succeeded, Failed (it had no effect) or TimedOut
// (its effect is unknown). When a step fails, the deadline passes, or the
// saga is cancelled or deleted, the steps that succeeded, timed out or were
// interrupted are compensated one at a time in reverse order, each with its
// own retries. A compensation that fails on every attempt leaves the saga
// Failed until a person asks for a retry.
//
// A saga's timers (a reply's timeout, a retry's backoff, the deadline) can be
// paused while the operator cannot send or receive, and resumed, each moved
// later by the length of the pause, so that no step fails for that (see
// PauseTimers).
package saga
