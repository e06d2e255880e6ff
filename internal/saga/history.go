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

package saga

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// maxHistoryMessage is the longest message a history entry keeps.
const maxHistoryMessage = 256

// recordHistory appends this Apply's transitions to status.history, but the
// quiet ones (a retry sent), numbering them on from the last, and drops the
// oldest entries beyond MaxHistory, counting them in historyDropped. It
// changes the status only when there are transitions, so it adds no write.
func (r *run) recordHistory() {
	for _, t := range r.out.Transitions {
		if t.Quiet {
			continue
		}
		r.st.History = append(r.st.History, ordersv1alpha1.HistoryEntry{
			Seq:     LastSeq(r.st) + 1,
			Time:    metav1.MicroTime{Time: r.now},
			Reason:  t.Reason,
			Step:    t.Step,
			Message: truncate(t.Message, maxHistoryMessage),
		})
	}
	if over := len(r.st.History) - ordersv1alpha1.MaxHistory; over > 0 {
		r.st.History = append([]ordersv1alpha1.HistoryEntry(nil), r.st.History[over:]...)
		r.st.HistoryDropped += int32(over) //nolint:gosec // bounded by the transitions of one Apply
	}
}

// LastSeq is the sequence number of the saga's last history entry, 0 if it
// has none.
func LastSeq(st *ordersv1alpha1.OrderSagaStatus) int32 {
	if n := len(st.History); n > 0 {
		return st.History[n-1].Seq
	}
	return st.HistoryDropped
}
