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
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/printers"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

func newHistoryCommand(o *Options) *cobra.Command {
	timestamps := false
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "Show a saga's transitions, oldest first",
		Long: "history shows status.history: one line per transition of the saga, with\n" +
			"its reason (the reason of its Event) and the step concerned. The status\n" +
			"keeps the last " + fmt.Sprint(ordersv1alpha1.MaxHistory) + " transitions; the number of older ones left out\n" +
			"is said above the table.",
		Example: "  kubectl saga history order-1002 -n shop\n" +
			"  kubectl saga history order-1002 --timestamps",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: o.completeSagaName,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, saga, err := o.getSaga(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return PrintHistory(o.Out, saga, o.Now(), timestamps)
		},
	}
	cmd.Flags().BoolVar(&timestamps, "timestamps", false, "Show each transition's time (RFC 3339, UTC, to the millisecond) instead of its age.")
	return cmd
}

// PrintHistory writes the saga's history as a table: the time of each
// transition as its age at now, or as a timestamp if timestamps.
func PrintHistory(w io.Writer, s *ordersv1alpha1.OrderSaga, now time.Time, timestamps bool) error {
	if d := s.Status.HistoryDropped; d > 0 {
		if _, err := fmt.Fprintf(w, "%s left out to keep the history bounded (status.historyDropped)\n",
			plural(d, "older transition")); err != nil {
			return err
		}
	}
	if len(s.Status.History) == 0 {
		_, err := fmt.Fprintf(w, "No history: saga %s has not made a transition yet.\n", s.Name)
		return err
	}
	tw := printers.GetNewTabWriter(w)
	when := "AGE"
	if timestamps {
		when = "TIME"
	}
	if _, err := fmt.Fprintf(tw, "SEQ\t%s\tREASON\tSTEP\tMESSAGE\n", when); err != nil {
		return err
	}
	for _, h := range s.Status.History {
		at := age(h.Time.Time, now)
		if timestamps {
			at = h.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		}
		row := strings.Join([]string{fmt.Sprint(h.Seq), at, string(h.Reason),
			orNone(h.Step), oneLine(h.Message)}, "\t")
		if _, err := fmt.Fprintln(tw, row); err != nil {
			return err
		}
	}
	return tw.Flush()
}
