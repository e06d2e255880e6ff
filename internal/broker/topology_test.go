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

package broker

import "testing"

func TestTopologyNames(t *testing.T) {
	tests := []struct {
		name     string
		topology Topology
		want     map[string]string
	}{
		{"unsharded, today's names", Topology{Prefix: "os"}, map[string]string{
			"reply": "os.replies", "reply dlx": "os.dead-letter", "reply dlq": "os.replies.dead",
			"start": "os.start", "start dlx": "os.start-dead-letter", "start dlq": "os.start-dead",
			"query": "os.queries", "query dlx": "os.queries-dead-letter", "query dlq": "os.queries-dead",
			"commands": "os.commands", "events": "os.events", "participant": "os.commands.payment",
		}},
		{"shard a: its own reply, start and query queues; shared exchanges", Topology{Prefix: "os", Shard: "a"}, map[string]string{
			"reply": "os.replies.a", "reply dlx": "os.dead-letter.a", "reply dlq": "os.replies.a.dead",
			"start": "os.start.a", "start dlx": "os.start-dead-letter.a", "start dlq": "os.start-dead.a",
			"query": "os.queries.a", "query dlx": "os.queries-dead-letter.a", "query dlq": "os.queries-dead.a",
			"commands": "os.commands", "events": "os.events", "participant": "os.commands.payment",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := tt.topology
			got := map[string]string{
				"reply": tp.ReplyQueue(), "reply dlx": tp.DeadLetterExchange(), "reply dlq": tp.DeadLetterQueue(),
				"start": tp.StartQueue(), "start dlx": tp.StartDeadLetterExchange(), "start dlq": tp.StartDeadLetterQueue(),
				"query": tp.QueryQueue(), "query dlx": tp.QueryDeadLetterExchange(), "query dlq": tp.QueryDeadLetterQueue(),
				"commands": tp.CommandExchange(), "events": tp.EventExchange(), "participant": tp.ParticipantQueue("payment"),
			}
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s: got %q, want %q", k, got[k], want)
				}
			}
		})
	}
}
