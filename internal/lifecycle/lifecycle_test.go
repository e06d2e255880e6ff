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

package lifecycle

import (
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func entry(seq int32, reason ordersv1alpha1.TransitionReason) ordersv1alpha1.HistoryEntry {
	return ordersv1alpha1.HistoryEntry{Seq: seq, Reason: reason,
		Time: metav1.MicroTime{Time: time.Date(2026, 11, 27, 12, 0, 0, int(seq)*1000, time.UTC)}}
}

func TestPending(t *testing.T) {
	history := []ordersv1alpha1.HistoryEntry{
		entry(5, ordersv1alpha1.TransitionStepSucceeded),
		entry(6, ordersv1alpha1.TransitionStepStarted), // history only
		entry(7, ordersv1alpha1.TransitionCompensationStarted),
	}
	for _, tc := range []struct {
		name     string
		through  int32
		wantSeqs []int32
		wantLost int32
	}{
		{"everything after the last published", 4, []int32{5, 7}, 0},
		{"an entry with no event is skipped", 5, []int32{7}, 0},
		{"drained", 7, nil, 0},
		{"entries dropped before they went out are lost", 2, []int32{5, 7}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &ordersv1alpha1.OrderSagaStatus{History: history, HistoryDropped: 4}
			pending, lost := Pending(st, tc.through)
			var seqs []int32
			for _, e := range pending {
				seqs = append(seqs, e.Seq)
			}
			if !equal(seqs, tc.wantSeqs) || lost != tc.wantLost {
				t.Fatalf("Pending(%d) = %v, lost %d; want %v, lost %d", tc.through, seqs, lost, tc.wantSeqs, tc.wantLost)
			}
		})
	}
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMessage(t *testing.T) {
	s := &ordersv1alpha1.OrderSaga{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout-ord-1", UID: "0c7e7f3e-93b8-4f7e-a0a5-2b0f3c1c9d11"},
		Spec:       ordersv1alpha1.OrderSagaSpec{Order: ordersv1alpha1.Order{ID: "ORD-1"}},
	}
	pinned := s.DeepCopy()
	pinned.Status.Template = &ordersv1alpha1.PinnedTemplate{Name: "checkout", Generation: 3}
	for _, tc := range []struct {
		name      string
		saga      *ordersv1alpha1.OrderSaga
		entry     ordersv1alpha1.HistoryEntry
		wantKey   string
		wantType  protocol.EventType
		wantPhase string
	}{
		{"saga event of inline steps", s, entry(1, ordersv1alpha1.TransitionStarted), "shop.-.SagaStarted", protocol.EventSagaStarted, "Running"},
		{"step event of a template", pinned, entry(3, ordersv1alpha1.TransitionStepTimedOut), "shop.checkout.StepFailed", protocol.EventStepFailed, ""},
		{"cancelled", s, entry(2, ordersv1alpha1.TransitionCancelled), "shop.-.SagaCancelled", protocol.EventSagaCancelled, "Compensated"},
		{"not admitted ends compensated", s, entry(2, ordersv1alpha1.TransitionNamespaceNotAdmitted), "shop.-.SagaCompensated", protocol.EventSagaCompensated, "Compensated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, msg, err := Message(tc.saga, tc.entry)
			if err != nil {
				t.Fatal(err)
			}
			var ev protocol.Event
			if err := json.Unmarshal(msg.Body, &ev); err != nil {
				t.Fatal(err)
			}
			switch {
			case key != tc.wantKey:
				t.Errorf("routing key %q, want %q", key, tc.wantKey)
			case msg.MessageID != protocol.EventID(string(tc.saga.UID), tc.entry.Seq) || ev.ID != msg.MessageID:
				t.Errorf("message id %q, body id %q: want the event id of the uid and seq", msg.MessageID, ev.ID)
			case ev.Type != tc.wantType || msg.Type != string(tc.wantType) || ev.Phase != tc.wantPhase:
				t.Errorf("type %q (property %q), phase %q; want %q, %q", ev.Type, msg.Type, ev.Phase, tc.wantType, tc.wantPhase)
			case ev.Reason != string(tc.entry.Reason) || ev.Seq != tc.entry.Seq || !ev.Time.Equal(tc.entry.Time.Time):
				t.Errorf("reason %q seq %d time %v: want the entry's", ev.Reason, ev.Seq, ev.Time)
			}
			again, msg2, _ := Message(tc.saga, tc.entry)
			if again != key || string(msg2.Body) != string(msg.Body) {
				t.Error("the same entry gives a different message")
			}
		})
	}
	if _, _, err := Message(s, entry(2, ordersv1alpha1.TransitionStepStarted)); err == nil {
		t.Error("a transition without an event gave a message")
	}
}
