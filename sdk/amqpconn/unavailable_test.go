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

package amqpconn

import (
	"testing"
	"time"

	"github.com/go-logr/logr"
	amqp "github.com/rabbitmq/amqp091-go"
)

// UnavailableSince tells when the connection stopped being able to publish,
// so that the operator pauses its timers from then, not from when it next
// looks.
func TestUnavailableSince(t *testing.T) {
	c := New(Config{}, logr.Discard())
	if made := c.UnavailableSince(); made.IsZero() || c.Connected() {
		t.Fatalf("a new Conn: UnavailableSince = %v, Connected = %v; want unavailable since it was made", made, c.Connected())
	}

	s := &session{done: make(chan struct{}), blockChanged: make(chan struct{}, 1)}
	c.setSession(s)
	if got := c.UnavailableSince(); !got.IsZero() || !c.Connected() {
		t.Fatalf("connected: UnavailableSince = %v, want zero", got)
	}

	blocking := make(chan amqp.Blocking, 2)
	blocking <- amqp.Blocking{Active: true, Reason: "low on memory"}
	blocking <- amqp.Blocking{Active: true, Reason: "still low"}
	close(blocking)
	before := time.Now()
	s.watchBlocked(blocking)
	blockedAt := c.UnavailableSince()
	if blockedAt.Before(before) || blockedAt.After(time.Now()) || c.Connected() {
		t.Fatalf("blocked: UnavailableSince = %v, want the first blocked notice's time", blockedAt)
	}

	s.end("connection closed")
	if got := c.UnavailableSince(); !got.Equal(s.endedAt) {
		t.Fatalf("ended: UnavailableSince = %v, want when it ended (%v)", got, s.endedAt)
	}
	c.setSession(nil)
	if got := c.UnavailableSince(); !got.Equal(s.endedAt) {
		t.Fatalf("after the session is dropped: UnavailableSince = %v, want when it ended (%v)", got, s.endedAt)
	}
}
