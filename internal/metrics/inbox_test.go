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

package metrics

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fakeInbox struct {
	n      int
	oldest time.Time
}

func (f fakeInbox) UnsettledReplies() (int, time.Time) { return f.n, f.oldest }

// The inbox gauges are read from the inbox at scrape time: how many replies
// are held and how long the oldest has been; an empty inbox has no age.
func TestInboxCollectorReportsHeldReplies(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		inbox    fakeInbox
		wantAge  string
		wantHeld string
	}{
		{"empty", fakeInbox{}, "0", "0"},
		{"held", fakeInbox{n: 3, oldest: now.Add(-90 * time.Second)}, "90", "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewInboxCollector()
			c.now = func() time.Time { return now }
			if n := testutil.CollectAndCount(c); n != 0 {
				t.Fatalf("%d series before the inbox is set", n)
			}
			c.SetSource(tt.inbox)
			want := fmt.Sprintf(`# HELP ordersaga_inbox_oldest_reply_age_seconds How long the oldest unsettled reply has been held; 0 when none is.
# TYPE ordersaga_inbox_oldest_reply_age_seconds gauge
ordersaga_inbox_oldest_reply_age_seconds %s
# HELP ordersaga_inbox_replies Replies taken from the broker and not yet settled (acknowledged, dead-lettered or returned).
# TYPE ordersaga_inbox_replies gauge
ordersaga_inbox_replies %s
`, tt.wantAge, tt.wantHeld)
			if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRepliesReturnedAreCounted(t *testing.T) {
	m := New()
	m.ReplyReturned()
	m.ReplyReturned()
	if got := testutil.ToFloat64(m.RepliesReturned); got != 2 {
		t.Fatalf("returned %v, want 2", got)
	}
}
