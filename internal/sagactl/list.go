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
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// phases are the saga phases --phase accepts.
var phases = []ordersv1alpha1.SagaPhase{
	ordersv1alpha1.PhasePending, ordersv1alpha1.PhaseRunning, ordersv1alpha1.PhaseCompensating,
	ordersv1alpha1.PhaseCompleted, ordersv1alpha1.PhaseCompensated, ordersv1alpha1.PhaseFailed,
}

// ListFilter selects the sagas list shows. A zero field selects every saga.
type ListFilter struct {
	// Phases are the phases a saga may be in.
	Phases []ordersv1alpha1.SagaPhase
	// Template is the SagaTemplate the saga runs (status.template.name).
	Template string
	// OlderThan and NewerThan bound the saga's age.
	OlderThan, NewerThan time.Duration
	// Drill selects only the sagas that are compensation drills
	// (status.drill).
	Drill bool
}

// Match reports whether the filter selects the saga at time now.
func (f ListFilter) Match(s *ordersv1alpha1.OrderSaga, now time.Time) bool {
	if len(f.Phases) > 0 && !slices.Contains(f.Phases, s.Status.Phase) {
		return false
	}
	if f.Template != "" && (s.Status.Template == nil || s.Status.Template.Name != f.Template) {
		return false
	}
	if f.Drill && !s.Status.Drill {
		return false
	}
	sagaAge := now.Sub(s.CreationTimestamp.Time)
	if f.OlderThan > 0 && sagaAge <= f.OlderThan {
		return false
	}
	if f.NewerThan > 0 && sagaAge >= f.NewerThan {
		return false
	}
	return true
}

// PrintList writes the sagas as a table like kubectl get's, with a
// NAMESPACE column first if withNamespace.
func PrintList(w io.Writer, sagas []ordersv1alpha1.OrderSaga, now time.Time, withNamespace bool) error {
	tw := printers.GetNewTabWriter(w)
	header := "NAME\tORDER\tPHASE\tSTEP\tTEMPLATE\tAGE"
	if withNamespace {
		header = "NAMESPACE\t" + header
	}
	if _, err := fmt.Fprintln(tw, header); err != nil {
		return err
	}
	for i := range sagas {
		s := &sagas[i]
		template := ""
		if s.Status.Template != nil {
			template = s.Status.Template.Name
		}
		row := strings.Join([]string{s.Name, s.Spec.Order.ID, orNone(string(s.Status.Phase)),
			orNone(s.Status.CurrentStep), orNone(template), age(s.CreationTimestamp.Time, now)}, "\t")
		if withNamespace {
			row = s.Namespace + "\t" + row
		}
		if _, err := fmt.Fprintln(tw, row); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// listOptions are the flags of list.
type listOptions struct {
	*Options
	allNamespaces bool
	selector      string
	phases        []string
	filter        ListFilter
}

func newListCommand(o *Options) *cobra.Command {
	lo := &listOptions{Options: o}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List sagas, filtered by phase, template, age and drill",
		Example: `  # Failed sagas of every namespace
  kubectl saga list -A --phase Failed

  # Sagas of the checkout template that have run for more than an hour
  kubectl saga list --template checkout --older-than 1h --phase Running,Compensating

  # Compensation drills
  kubectl saga list --drill`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lo.run(cmd)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&lo.allNamespaces, "all-namespaces", "A", false, "List the sagas of every namespace.")
	f.StringVarP(&lo.selector, "selector", "l", "", "Label selector, as kubectl get's (for example orders.ordersaga.io/finished!=true).")
	f.StringSliceVar(&lo.phases, "phase", nil, "Only sagas in these phases (comma-separated): "+phaseNames()+".")
	f.StringVar(&lo.filter.Template, "template", "", "Only sagas that run this SagaTemplate.")
	f.DurationVar(&lo.filter.OlderThan, "older-than", 0, "Only sagas created longer ago than this (for example 30m, 24h).")
	f.DurationVar(&lo.filter.NewerThan, "newer-than", 0, "Only sagas created less long ago than this.")
	f.BoolVar(&lo.filter.Drill, "drill", false, "Only sagas that are compensation drills (status.drill).")
	return cmd
}

func (lo *listOptions) run(cmd *cobra.Command) error {
	phaseFilter, err := parsePhases(lo.phases)
	if err != nil {
		return err
	}
	lo.filter.Phases = phaseFilter
	c, err := lo.client()
	if err != nil {
		return err
	}
	opts := []client.ListOption{}
	ns := ""
	if !lo.allNamespaces {
		if ns, err = lo.namespace(); err != nil {
			return err
		}
		opts = append(opts, client.InNamespace(ns))
	}
	if lo.selector != "" {
		sel, err := labels.Parse(lo.selector)
		if err != nil {
			return fmt.Errorf("parse --selector: %w", err)
		}
		opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
	}
	list := &ordersv1alpha1.OrderSagaList{}
	if err := c.List(cmd.Context(), list, opts...); err != nil {
		return fmt.Errorf("list OrderSagas: %w", err)
	}
	now := lo.Now()
	var shown []ordersv1alpha1.OrderSaga
	for i := range list.Items {
		if lo.filter.Match(&list.Items[i], now) {
			shown = append(shown, list.Items[i])
		}
	}
	if len(shown) == 0 {
		return noneFound(lo.ErrOut, ns)
	}
	return PrintList(lo.Out, shown, now, lo.allNamespaces)
}

// noneFound says, as kubectl get does on its error stream, that nothing
// matched.
func noneFound(w io.Writer, ns string) error {
	if ns == "" {
		_, err := fmt.Fprintln(w, "No sagas found.")
		return err
	}
	_, err := fmt.Fprintf(w, "No sagas found in %s namespace.\n", ns)
	return err
}

// parsePhases returns the phases named, whatever their case; an unknown
// name is an error listing the known ones.
func parsePhases(names []string) ([]ordersv1alpha1.SagaPhase, error) {
	out := make([]ordersv1alpha1.SagaPhase, 0, len(names))
	for _, n := range names {
		i := slices.IndexFunc(phases, func(p ordersv1alpha1.SagaPhase) bool {
			return strings.EqualFold(string(p), strings.TrimSpace(n))
		})
		if i < 0 {
			return nil, fmt.Errorf("unknown phase %q: want one of %s", n, phaseNames())
		}
		out = append(out, phases[i])
	}
	return out, nil
}

func phaseNames() string {
	names := make([]string, len(phases))
	for i, p := range phases {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}
