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
	"strings"
	"testing"
)

func TestProgressWithoutATerminalPrintsSpacedLines(t *testing.T) {
	var out strings.Builder
	p := &progress{out: &out}
	p.show("%d of 10", 1)
	p.show("%d of 10", 2) // within progressInterval of the first: not printed
	p.done("%d of 10", 10)
	if got, want := out.String(), "    1 of 10\n    10 of 10\n"; got != want {
		t.Errorf("printed %q, want %q", got, want)
	}

	out.Reset()
	p = &progress{out: &out}
	p.show("%d of 10", 10)
	p.done("%d of 10", 10)
	if got, want := out.String(), "    10 of 10\n"; got != want {
		t.Errorf("printed %q, want %q: the final state once", got, want)
	}
}

func TestProgressOnATerminalRewritesOneLine(t *testing.T) {
	var out strings.Builder
	p := &progress{out: &out, tty: true}
	p.show("%d of 10", 1)
	p.show("%d of 10", 2)
	p.done("%d of 10", 10)
	if got, want := out.String(), "\r    1 of 10   \r    2 of 10   \r    10 of 10   \n"; got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
}
