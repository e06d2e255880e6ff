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
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

// treeWidth is the terminal width tree keeps to: no line is longer.
const treeWidth = 80

// Widths of tree's step columns. A step name longer than stepNameWidth
// gets a line of its own.
const (
	stepNameWidth  = 22
	stepStateWidth = 18
	attemptsWidth  = 8
	startWidth     = 8
	labelWidth     = 11
	detailWidth    = 8
)

func newTreeCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "tree NAME",
		Short: "Show a saga's steps as a tree, with their compensations",
		Long: "tree shows a saga's header (phase, order, template, deadline, conditions)\n" +
			"and its steps in order, each with its state, attempts, start (from the\n" +
			"saga's start) and duration (from its first command to its last state),\n" +
			"its reason and result, and under it its compensation.",
		Example:           "  kubectl saga tree order-1002 -n shop",
		ValidArgsFunction: o.completeSagaName,
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, saga, err := o.getSaga(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return PrintTree(o.Out, saga, o.Now())
		},
	}
}

// PrintTree writes the saga as tree shows it, measuring ages and running
// durations at now.
func PrintTree(w io.Writer, s *ordersv1alpha1.OrderSaga, now time.Time) error {
	t := &treeWriter{now: now}
	t.header(s)
	t.steps(s)
	_, err := io.WriteString(w, t.b.String())
	return err
}

// treeWriter builds tree's output line by line, each cut to treeWidth.
type treeWriter struct {
	b   strings.Builder
	now time.Time
}

func (t *treeWriter) line(s string) {
	t.b.WriteString(strings.TrimRight(fit(s, treeWidth), " "))
	t.b.WriteByte('\n')
}

// field writes a header line: a label and its value.
func (t *treeWriter) field(label, value string) {
	t.line(fmt.Sprintf("%-*s %s", labelWidth, label, value))
}

func (t *treeWriter) header(s *ordersv1alpha1.OrderSaga) {
	st := &s.Status
	t.field("OrderSaga", s.Namespace+"/"+s.Name)
	o := s.Spec.Order
	t.field("Order", fmt.Sprintf("%s, customer %s, %s, %s %s", o.ID, o.Customer.ID,
		plural(int32(len(o.Items)), "item"), o.Total.Amount, o.Total.Currency))
	t.field("Phase", phaseLine(s))
	t.field("Template", templateLine(s))
	if st.StartTime != nil {
		t.field("Started", timestamp(st.StartTime.Time)+" ("+relative(st.StartTime.Time, t.now)+")")
	}
	if ct := st.CompletionTime; ct != nil {
		took := ""
		if st.StartTime != nil {
			took = ", took " + elapsed(ct.Sub(st.StartTime.Time))
		}
		t.field("Finished", timestamp(ct.Time)+" ("+relative(ct.Time, t.now)+took+")")
	}
	if d := deadlineLine(s, t.now); d != "" {
		t.field("Deadline", d)
	}
	if len(st.Conditions) > 0 {
		t.wrapped("Conditions", conditionsLine(st.Conditions))
	}
	var messages []string
	for _, c := range st.Conditions {
		if m := oneLine(c.Message); m != "" && !slices.Contains(messages, m) {
			messages = append(messages, m)
			t.wrapped("Message", m)
		}
	}
	if n := int32(len(st.History)) + st.HistoryDropped; n > 0 {
		t.field("History", fmt.Sprintf("%s (kubectl saga history %s)", plural(n, "transition"), s.Name))
	}
	if st.Phase == ordersv1alpha1.PhaseFailed {
		if v, ok := pendingRetry(s); ok {
			t.field("Retry", fmt.Sprintf("%q requested, not handled by the operator yet", v))
		} else {
			t.field("Retry", fmt.Sprintf("kubectl saga retry %s --reason WHY, once fixed", s.Name))
		}
	}
}

// wrapped writes a header field whose value may take several lines.
func (t *treeWriter) wrapped(label, value string) {
	for _, l := range wrap(value, treeWidth-labelWidth-1) {
		t.field(label, l)
		label = ""
	}
}

// conditionsLine sums the conditions up: each type and status, and the
// reason once if they share it.
func conditionsLine(cs []metav1.Condition) string {
	parts := make([]string, len(cs))
	shared := true
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s=%s", c.Type, c.Status)
		shared = shared && c.Reason == cs[0].Reason
	}
	if shared {
		return strings.Join(parts, ", ") + ": " + cs[0].Reason
	}
	for i, c := range cs {
		parts[i] += " (" + c.Reason + ")"
	}
	return strings.Join(parts, ", ")
}

// phaseLine is the saga's phase and what qualifies it.
func phaseLine(s *ordersv1alpha1.OrderSaga) string {
	if s.Status.Phase == "" {
		return none + " (the operator has not seen the saga yet)"
	}
	parts := []string{string(s.Status.Phase)}
	if s.Status.CurrentStep != "" {
		parts = append(parts, "at step "+s.Status.CurrentStep)
	}
	if s.Status.RetryRound > 0 {
		parts = append(parts, fmt.Sprintf("retry round %d", s.Status.RetryRound))
	}
	if s.Spec.Cancel {
		parts = append(parts, "cancel requested")
	}
	if s.DeletionTimestamp != nil {
		parts = append(parts, "deleting")
	}
	return strings.Join(parts, ", ")
}

// templateLine names the template the saga runs and its version.
func templateLine(s *ordersv1alpha1.OrderSaga) string {
	switch {
	case s.Status.Template != nil:
		return fmt.Sprintf("%s@%d", s.Status.Template.Name, s.Status.Template.Generation)
	case s.Spec.TemplateRef != nil:
		return s.Spec.TemplateRef.Name + " (not pinned yet)"
	default:
		return "none (the saga's own steps)"
	}
}

// deadlineLine says when the saga's deadline passes: counted from its
// start, extended by the time its timers were paused, as saga.Deadline
// says.
func deadlineLine(s *ordersv1alpha1.OrderSaga, now time.Time) string {
	d := s.RunDeadline()
	if d == "" {
		return ""
	}
	st := &s.Status
	if st.StartTime == nil {
		return string(d) + ", counted from the first command"
	}
	// The operator's own rule: a pause in progress moves the deadline too.
	due, _ := saga.Deadline(s, now)
	text := fmt.Sprintf("%s, due %s", d, timestamp(due))
	if !st.Phase.IsFinal() {
		text += " (" + relative(due, now) + ")"
	}
	if st.TimersPausedFor != "" {
		text += ", +" + string(st.TimersPausedFor) + " paused"
	}
	if st.TimersPausedAt != nil {
		text += ", timers paused since " + timestamp(st.TimersPausedAt.Time)
	}
	return text
}

// stepRecords returns the saga's step records; before the first pass, the
// steps it will run, Pending.
func stepRecords(s *ordersv1alpha1.OrderSaga) []ordersv1alpha1.StepStatus {
	if len(s.Status.Steps) > 0 {
		return s.Status.Steps
	}
	steps := s.RunSteps()
	recs := make([]ordersv1alpha1.StepStatus, len(steps))
	for i, step := range steps {
		recs[i] = ordersv1alpha1.StepStatus{Name: step.Name, State: ordersv1alpha1.StepPending}
	}
	return recs
}

func (t *treeWriter) steps(s *ordersv1alpha1.OrderSaga) {
	recs := stepRecords(s)
	if len(recs) == 0 {
		return
	}
	t.line("")
	t.line(fmt.Sprintf("%-*s  %-*s  %-*s  %-*s  %s", 3+stepNameWidth, "STEPS",
		stepStateWidth, "STATE", attemptsWidth, "ATTEMPTS", startWidth, "START", "TOOK"))
	for i := range recs {
		branch, cont := "├─ ", "│  "
		if i == len(recs)-1 {
			branch, cont = "└─ ", "   "
		}
		t.step(s, &recs[i], branch, cont)
	}
}

// step writes one step: its line, its details, and its compensation.
func (t *treeWriter) step(s *ordersv1alpha1.OrderSaga, rec *ordersv1alpha1.StepStatus, branch, cont string) {
	name := rec.Name
	if len(name) > stepNameWidth {
		t.line(branch + name)
		branch, name = cont, ""
	}
	t.line(fmt.Sprintf("%s%-*s  %-*s  %-*s  %-*s  %s", branch, stepNameWidth, name,
		stepStateWidth, rec.State, attemptsWidth, count(rec.Attempts),
		startWidth, stepStart(s, rec), t.took(rec)))

	compensation := hasCompensation(rec)
	bar := "  "
	if compensation {
		bar = "│ "
	}
	for _, d := range append(after(s, rec.Name), t.stepDetails(rec)...) {
		t.line(cont + bar + d)
	}
	if !compensation {
		return
	}
	t.line(fmt.Sprintf("%s└─ %-*s  %-*s  %s", cont, stepNameWidth-3, "compensation",
		stepStateWidth, compensationState(rec.State), count(rec.CompensationAttempts)))
	for _, d := range t.compensationDetails(rec) {
		t.line(cont + "   " + d)
	}
}

// after says which steps a step runs after, when it names them
// (spec.steps[].runAfter): steps that do not depend on each other run at
// the same time. A step without runAfter runs after the one above it.
func after(s *ordersv1alpha1.OrderSaga, name string) []string {
	for _, step := range s.RunSteps() {
		if step.Name != name || step.RunAfter == nil {
			continue
		}
		if len(step.RunAfter) == 0 {
			return detail("after", "(start)")
		}
		return detail("after", strings.Join(step.RunAfter, ", "))
	}
	return nil
}

// count writes a counter, blank when zero.
func count(n int32) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

// stepStart is when the step's first command left, from the saga's start.
func stepStart(s *ordersv1alpha1.OrderSaga, rec *ordersv1alpha1.StepStatus) string {
	if rec.StartedAt == nil || s.Status.StartTime == nil {
		return ""
	}
	return "+" + elapsed(rec.StartedAt.Sub(s.Status.StartTime.Time))
}

// took is how long the step took, from its first command to its last
// state; for a step not done yet, how long it has been going.
func (t *treeWriter) took(rec *ordersv1alpha1.StepStatus) string {
	switch {
	case rec.StartedAt == nil:
		return ""
	case rec.CompletedAt != nil:
		return elapsed(rec.CompletedAt.Sub(rec.StartedAt.Time))
	default:
		return duration.HumanDuration(t.now.Sub(rec.StartedAt.Time)) + " so far"
	}
}

// detailIndent is the width of what precedes a detail's text: the tree's
// branches, the bar, the label.
const detailIndent = 3 + 3 + detailWidth + 1

// detail writes a labelled detail of a step, on as many lines as it needs.
func detail(label, text string) []string {
	lines := wrap(text, treeWidth-detailIndent)
	for i := range lines {
		lines[i] = fmt.Sprintf("%-*s %s", detailWidth, label, lines[i])
		label = ""
	}
	return lines
}

// outcome writes a reason and its message.
func outcome(reason, message string) string {
	switch {
	case message == "":
		return reason
	case reason == "":
		return oneLine(message)
	default:
		return reason + ": " + oneLine(message)
	}
}

func (t *treeWriter) stepDetails(rec *ordersv1alpha1.StepStatus) []string {
	var out []string
	if rec.Reason != "" || rec.Message != "" {
		out = append(out, detail("reason", outcome(rec.Reason, rec.Message))...)
	}
	if rec.TimedOutAttempts > 0 {
		out = append(out, detail("timeouts", fmt.Sprintf("%d of %s got no reply in time",
			rec.TimedOutAttempts, plural(rec.Attempts, "attempt")))...)
	}
	if rec.State == ordersv1alpha1.StepRunning {
		out = append(out, t.waiting(rec)...)
	}
	return append(out, resultLines(rec)...)
}

func (t *treeWriter) compensationDetails(rec *ordersv1alpha1.StepStatus) []string {
	var out []string
	if rec.CompensationReason != "" || rec.CompensationMessage != "" {
		out = append(out, detail("reason", outcome(rec.CompensationReason, rec.CompensationMessage))...)
	}
	if rec.State == ordersv1alpha1.StepCompensating {
		out = append(out, t.waiting(rec)...)
	}
	return out
}

// waiting says what a step in flight waits for: a reply, or its next
// attempt.
func (t *treeWriter) waiting(rec *ordersv1alpha1.StepStatus) []string {
	var out []string
	if rec.TimeoutAt != nil {
		out = append(out, detail("waiting", fmt.Sprintf("reply due %s (%s)",
			timestamp(rec.TimeoutAt.Time), relative(rec.TimeoutAt.Time, t.now)))...)
	}
	if rec.NextAttemptAt != nil {
		out = append(out, detail("waiting", fmt.Sprintf("next attempt %s (%s)",
			timestamp(rec.NextAttemptAt.Time), relative(rec.NextAttemptAt.Time, t.now)))...)
	}
	return out
}

// resultLines writes the step's result, key=value sorted by key, as many
// to a line as fit.
func resultLines(rec *ordersv1alpha1.StepStatus) []string {
	if len(rec.Result) == 0 {
		return nil
	}
	room := treeWidth - detailIndent
	var out []string
	line := ""
	for _, k := range slices.Sorted(maps.Keys(rec.Result)) {
		entry := fit(k+"="+oneLine(string(rec.Result[k])), room)
		if line != "" && len(line)+2+len(entry) > room {
			out = append(out, line)
			line = ""
		}
		if line != "" {
			line += "  "
		}
		line += entry
	}
	out = append(out, line)
	for i := range out {
		label := ""
		if i == 0 {
			label = "result"
		}
		out[i] = fmt.Sprintf("%-*s %s", detailWidth, label, out[i])
	}
	return out
}

// hasCompensation reports whether the step's compensation was started.
func hasCompensation(rec *ordersv1alpha1.StepStatus) bool {
	return compensationState(rec.State) != "" || rec.CompensationAttempts > 0 || rec.CompensationReason != ""
}

// compensationState is the state of the step's compensation, from the
// step's state.
func compensationState(s ordersv1alpha1.StepState) string {
	switch s {
	case ordersv1alpha1.StepCompensating:
		return "Running"
	case ordersv1alpha1.StepCompensated:
		return "Succeeded"
	case ordersv1alpha1.StepCompensationFailed:
		return "Failed"
	default:
		return ""
	}
}

// pendingRetry returns the retry requested on the saga through the retry
// annotation that the operator has not acted upon yet, if there is one.
func pendingRetry(s *ordersv1alpha1.OrderSaga) (string, bool) {
	v, ok := s.Annotations[ordersv1alpha1.RetryAnnotation]
	return v, ok && v != s.Status.LastHandledRetry
}
