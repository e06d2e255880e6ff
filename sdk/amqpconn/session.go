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
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// session is one connection and its publisher channel. It ends when either
// closes; the Broker then starts a new one.
type session struct {
	conn    *amqp.Connection
	pub     *amqp.Channel
	returns *returnTracker

	// blocking is the broker's last connection.blocked or .unblocked
	// notification: nil until the broker blocks publishers (resource alarm).
	blocking atomic.Pointer[amqp.Blocking]
	// blockChanged wakes wait when blocking changes.
	blockChanged chan struct{}
	// blockedAt is when the broker last started blocking publishers (Unix
	// nanoseconds).
	blockedAt atomic.Int64

	done      chan struct{}
	endOnce   sync.Once
	endReason string
	endedAt   time.Time // set before done is closed
}

func newSession(conn *amqp.Connection, topology Declarer) (*session, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open topology channel: %w", err)
	}
	if topology != nil {
		if err := topology.Declare(ch); err != nil {
			return nil, err
		}
	}
	_ = ch.Close()

	pub, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open publisher channel: %w", err)
	}
	if err := pub.Confirm(false); err != nil {
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	s := &session{conn: conn, pub: pub, done: make(chan struct{}), blockChanged: make(chan struct{}, 1)}
	// The return channel must be unbuffered: see returnTracker.
	s.returns = newReturnTracker(pub.NotifyReturn(make(chan amqp.Return)), s.done)

	// Both notification channels are drained until closed, as amqp091-go
	// requires, and either closing ends the session.
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
	pubClosed := pub.NotifyClose(make(chan *amqp.Error, 1))
	go s.watch("connection", connClosed)
	go s.watch("publisher channel", pubClosed)
	go s.watchBlocked(conn.NotifyBlocked(make(chan amqp.Blocking, 1)))
	return s, nil
}

// watchBlocked follows the broker's connection.blocked notifications, until
// amqp091-go closes the channel with the connection.
func (s *session) watchBlocked(blockings <-chan amqp.Blocking) {
	for b := range blockings {
		if was, _ := s.blocked(); b.Active && !was {
			s.blockedAt.Store(time.Now().UnixNano())
		}
		s.blocking.Store(&b)
		select {
		case s.blockChanged <- struct{}{}:
		default: // a wake-up is pending: wait reads the latest state anyway
		}
	}
}

// unavailableSince returns when the session stopped being able to publish:
// when it ended, or when the broker started blocking it; zero if it can.
func (s *session) unavailableSince() time.Time {
	if s.ended() {
		return s.endedAt
	}
	if blocked, _ := s.blocked(); blocked {
		return time.Unix(0, s.blockedAt.Load())
	}
	return time.Time{}
}

// blocked reports whether the broker blocks publishers on this connection,
// and why.
func (s *session) blocked() (blocked bool, reason string) {
	if b := s.blocking.Load(); b != nil {
		return b.Active, b.Reason
	}
	return false, ""
}

func (s *session) watch(what string, closed <-chan *amqp.Error) {
	reason := what + " closed"
	for err := range closed {
		if err != nil {
			reason = fmt.Sprintf("%s closed: %s", what, err.Error())
		}
	}
	s.end(reason)
}

func (s *session) end(reason string) {
	s.endOnce.Do(func() {
		s.endReason = reason
		s.endedAt = time.Now()
		close(s.done)
	})
}

func (s *session) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// wait blocks until the session ends or ctx does, and says why. Meanwhile it
// calls blockChanged whenever the broker starts or stops blocking publishers,
// so that the caller hears of it between the connection going up and down.
func (s *session) wait(ctx context.Context, blockChanged func(blocked bool, reason string)) string {
	reported := false
	for {
		select {
		case <-s.done:
			return s.endReason
		case <-ctx.Done():
			return "shutting down"
		case <-s.blockChanged:
			if blocked, reason := s.blocked(); blocked != reported {
				reported = blocked
				blockChanged(blocked, reason)
			}
		}
	}
}

func (s *session) close() {
	_ = s.conn.Close() // closes the channels too
	s.end("closed")
}
