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
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	. "github.com/onsi/gomega"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ from the output")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (run go test -update to write it): %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update to accept)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestPrintTree(t *testing.T) {
	for name, saga := range fixtures() {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := PrintTree(&b, saga, fixtureNow); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".tree", b.Bytes())
			for i, line := range strings.Split(b.String(), "\n") {
				if n := utf8.RuneCountInString(line); n > treeWidth {
					t.Errorf("line %d is %d columns wide, more than %d: %q", i+1, n, treeWidth, line)
				}
			}
		})
	}
}

// A step that names runAfter shows the steps it runs after.
func TestPrintTreeParallel(t *testing.T) {
	var b bytes.Buffer
	if err := PrintTree(&b, parallelSaga(), fixtureNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "parallel.tree", b.Bytes())
}

func TestPrintTreeRetryRequested(t *testing.T) {
	g := NewWithT(t)
	s := failedSaga()
	s.Annotations = map[string]string{ordersv1alpha1.RetryAnnotation: "2026-11-27T12:04:00Z"}
	var b bytes.Buffer
	g.Expect(PrintTree(&b, s, fixtureNow)).To(Succeed())
	g.Expect(b.String()).To(ContainSubstring("\nRetry       \"2026-11-27T12:04:00Z\" requested, not handled by the operator yet\n"))

	s.Status.LastHandledRetry = "2026-11-27T12:04:00Z"
	b.Reset()
	g.Expect(PrintTree(&b, s, fixtureNow)).To(Succeed())
	g.Expect(b.String()).To(ContainSubstring("\nRetry       kubectl saga retry order-1003 --reason WHY, once fixed\n"))
}

func TestPrintHistory(t *testing.T) {
	for name, saga := range fixtures() {
		for _, timestamps := range []bool{false, true} {
			file := name + ".history"
			if timestamps {
				file += "-timestamps"
			}
			t.Run(file, func(t *testing.T) {
				var b bytes.Buffer
				if err := PrintHistory(&b, saga, fixtureNow, timestamps); err != nil {
					t.Fatal(err)
				}
				golden(t, file, b.Bytes())
			})
		}
	}
}

func TestPrintList(t *testing.T) {
	fx := fixtures()
	sagas := make([]ordersv1alpha1.OrderSaga, 0, len(fx))
	for _, s := range fx {
		sagas = append(sagas, *s)
	}
	slices.SortFunc(sagas, func(a, b ordersv1alpha1.OrderSaga) int { return strings.Compare(a.Name, b.Name) })
	for _, withNamespace := range []bool{false, true} {
		file := "list"
		if withNamespace {
			file += "-all-namespaces"
		}
		t.Run(file, func(t *testing.T) {
			var b bytes.Buffer
			if err := PrintList(&b, sagas, fixtureNow, withNamespace); err != nil {
				t.Fatal(err)
			}
			golden(t, file, b.Bytes())
		})
	}
}

func TestListFilterMatch(t *testing.T) {
	all := []string{"order-1002", "order-1003", "order-1004", "order-1005"}
	tests := []struct {
		name   string
		filter ListFilter
		want   []string
	}{
		{name: "no filter", want: all},
		{name: "one phase", filter: ListFilter{Phases: []ordersv1alpha1.SagaPhase{ordersv1alpha1.PhaseFailed}}, want: []string{"order-1003"}},
		{
			name:   "two phases",
			filter: ListFilter{Phases: []ordersv1alpha1.SagaPhase{ordersv1alpha1.PhaseFailed, ordersv1alpha1.PhaseRunning}},
			want:   []string{"order-1003", "order-1004"},
		},
		{name: "template", filter: ListFilter{Template: "checkout"}, want: []string{"order-1002", "order-1004"}},
		{name: "unknown template", filter: ListFilter{Template: "returns"}, want: nil},
		{name: "older than", filter: ListFilter{OlderThan: 2 * time.Minute}, want: []string{"order-1002", "order-1003"}},
		{name: "newer than", filter: ListFilter{NewerThan: 2 * time.Minute}, want: []string{"order-1004", "order-1005"}},
		{name: "age window", filter: ListFilter{OlderThan: 30 * time.Second, NewerThan: 2 * time.Minute}, want: []string{"order-1004"}},
		{
			name:   "phase and template",
			filter: ListFilter{Phases: []ordersv1alpha1.SagaPhase{ordersv1alpha1.PhaseCompensated}, Template: "checkout"},
			want:   []string{"order-1002"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			var got []string
			for _, s := range fixtures() {
				if tt.filter.Match(s, fixtureNow) {
					got = append(got, s.Name)
				}
			}
			slices.Sort(got)
			g.Expect(got).To(Equal(tt.want))
		})
	}
}

func TestParsePhases(t *testing.T) {
	g := NewWithT(t)
	got, err := parsePhases([]string{"failed", " Running", "COMPENSATING"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal([]ordersv1alpha1.SagaPhase{
		ordersv1alpha1.PhaseFailed, ordersv1alpha1.PhaseRunning, ordersv1alpha1.PhaseCompensating,
	}))
	_, err = parsePhases([]string{"Done"})
	g.Expect(err).To(MatchError(ContainSubstring(`unknown phase "Done": want one of Pending, Running, Compensating, Completed, Compensated, Failed`)))
}

// isRefusal reports whether err is, or wraps, a verb's refusal.
func isRefusal(err error) bool {
	var refused *RefusedError
	return errors.As(err, &refused)
}

// TestDocsShowGoldenOutputs checks that the example outputs of
// docs/kubectl-saga.md are the golden files, as the commands print them.
func TestDocsShowGoldenOutputs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), "docs", "kubectl-saga.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"list", "list-all-namespaces", "compensated.tree", "failed.tree", "running.tree", "pending.tree",
		"failed.history", "compensated.history-timestamps",
	} {
		want, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, want) {
			t.Errorf("docs/kubectl-saga.md does not show testdata/%s as it is: update the example", name)
		}
	}
}

// TestVerbCommand checks what a verb's subcommand gets from the verb: a
// later verb with a note is a verb value with a flags hook.
func TestVerbCommand(t *testing.T) {
	g := NewWithT(t)
	var note string
	v := verb{
		name: "skip", short: "Skip a stuck step",
		flags: func(fs *pflag.FlagSet) { fs.StringVar(&note, "note", "", "Why the step is skipped.") },
	}
	cmd := v.command(NewOptions(genericiooptions.NewTestIOStreamsDiscard()))
	g.Expect(cmd.Name()).To(Equal("skip"))
	g.Expect(cmd.Use).To(Equal("skip NAME"))
	g.Expect(cmd.Flags().Set("note", "participant fixed by hand")).To(Succeed())
	g.Expect(note).To(Equal("participant fixed by hand"))
	g.Expect(cmd.Args(cmd, []string{})).NotTo(Succeed())
	g.Expect(cmd.Args(cmd, []string{"order-1"})).To(Succeed())
}

// A saga paused now (suspended, or the broker away) is not past its
// deadline, whatever the clock says: the tree reads the operator's rule.
func TestDeadlineLineCountsThePauseInProgress(t *testing.T) {
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s := &ordersv1alpha1.OrderSaga{
		Spec: ordersv1alpha1.OrderSagaSpec{Deadline: "10m"},
		Status: ordersv1alpha1.OrderSagaStatus{
			Phase:          ordersv1alpha1.PhaseRunning,
			StartTime:      &metav1.MicroTime{Time: start},
			TimersPausedAt: &metav1.MicroTime{Time: start.Add(time.Minute)},
		},
	}
	got := deadlineLine(s, start.Add(time.Hour))
	if want := "10m, due 2026-11-27T13:09:00Z"; !strings.HasPrefix(got, want) {
		t.Fatalf("deadline line %q, want it to start with %q (9 of 10 minutes left when the pause began)", got, want)
	}
	if strings.Contains(got, "ago") {
		t.Fatalf("deadline line %q says a paused saga passed its deadline", got)
	}
}
