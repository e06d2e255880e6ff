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

package sagactl

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/duration"
)

// none is what a table shows for an empty value, as kubectl get does.
const none = "<none>"

// orNone returns s, or none if s is empty.
func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

// age is how long ago t was, as kubectl's AGE column writes it.
func age(t time.Time, now time.Time) string {
	if t.IsZero() {
		return none
	}
	return duration.HumanDuration(now.Sub(t))
}

// elapsed writes a step's or a saga's duration precisely enough to tell
// fast steps apart: milliseconds under a second, hundredths under a minute,
// seconds above.
func elapsed(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// timestamp writes t in UTC to the second, as a person reads it.
func timestamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// relative says when t is from now: "in 5s" or "5s ago".
func relative(t, now time.Time) string {
	if t.After(now) {
		return "in " + duration.HumanDuration(t.Sub(now))
	}
	return duration.HumanDuration(now.Sub(t)) + " ago"
}

// oneLine folds s onto one line, so that a message cannot break a table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// fit cuts s to at most width runes, marking the cut with an ellipsis.
func fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// maxWrappedLines bounds the lines a wrapped text takes: messages may be
// long, and tree is a summary.
const maxWrappedLines = 3

// wrap folds text onto lines of at most width runes, breaking between
// words, and cuts it, with an ellipsis, after maxWrappedLines lines.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for word := range strings.FieldsSeq(text) {
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	lines = append(lines, line)
	if len(lines) > maxWrappedLines {
		lines = lines[:maxWrappedLines]
		lines[maxWrappedLines-1] = fit(lines[maxWrappedLines-1]+" …", width)
	}
	for i := range lines {
		lines[i] = fit(lines[i], width)
	}
	return lines
}

// plural writes n and the noun, with an s unless n is 1.
func plural(n int32, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
