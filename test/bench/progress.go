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
	"io"
	"os"
	"time"
)

// progressInterval spaces the progress lines written when stderr is not a
// terminal.
const progressInterval = 10 * time.Second

// progress shows a count that changes while the benchmark waits: on a
// terminal in one line rewritten in place, else (a log file, CI) one line per
// progressInterval, instead of one per poll.
type progress struct {
	out io.Writer
	tty bool
	// last is when the last line was written, and printed what it said.
	last    time.Time
	printed string
}

func newProgress() *progress {
	info, err := os.Stderr.Stat()
	return &progress{out: os.Stderr, tty: err == nil && info.Mode()&os.ModeCharDevice != 0}
}

// show reports the current state.
func (p *progress) show(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	switch {
	case p.tty:
		_, _ = fmt.Fprintf(p.out, "\r    %s   ", line)
	case time.Since(p.last) >= progressInterval:
		_, _ = fmt.Fprintf(p.out, "    %s\n", line)
		p.last, p.printed = time.Now(), line
	}
}

// done reports the final state and ends the line.
func (p *progress) done(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	switch {
	case p.tty:
		_, _ = fmt.Fprintf(p.out, "\r    %s   \n", line)
	case line != p.printed:
		_, _ = fmt.Fprintf(p.out, "    %s\n", line)
	}
}
