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

package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
)

// ReplyReturner bounds how long a reply stays unsettled, so that no input
// from the broker makes the operator hold or retry a message for ever.
//
// A reply is settled (acknowledged or dead-lettered) by the first pass of
// its saga that succeeds. One whose saga's passes keep failing (the saga
// cannot be read or written, whatever the reason) is returned to the broker
// once it has been unsettled for SettleTimeout: nacked with requeue, so that
// the broker delivers it again, and the reply queue's delivery limit
// (x-delivery-limit) dead-letters it after that many deliveries. A reply is
// returned only
//
//   - when a pass of its saga ended without settling it: a reply merely
//     waiting for its pass is never returned;
//   - while no pass of its saga runs, so that no pass acknowledges a delivery
//     already returned;
//   - while the apiserver answers (APIServerReady): during an outage replies
//     are held, not returned, so that the outage costs them no delivery and
//     none reaches the delivery limit because of it.
//
// Check, a readiness check, fails while a reply has been held for more than
// StuckAfter: the apiserver is not answering, or passes do not run.
type ReplyReturner struct {
	Inbox *Inbox
	// SettleTimeout is how long a reply whose saga's passes fail may stay
	// unsettled before it is returned to the broker.
	SettleTimeout time.Duration
	// APIServerReady reports whether the apiserver answers.
	APIServerReady func(context.Context) error
	Observer       ReplyObserver
	Clock          clock.PassiveClock
	Log            logr.Logger

	// holding says the last sweep held overdue replies because the
	// apiserver did not answer; only sweeps touch it.
	holding bool
}

// StuckAfter is the age beyond which an unsettled reply makes the reply
// queue count as stuck: twice the settle timeout, so that a reply returned
// on time never counts.
func (r *ReplyReturner) StuckAfter() time.Duration { return 2 * r.SettleTimeout }

// Start sweeps the inbox four times per settle timeout until ctx ends.
func (r *ReplyReturner) Start(ctx context.Context) error {
	if r.SettleTimeout <= 0 || r.APIServerReady == nil || r.Observer == nil || r.Clock == nil {
		return errors.New("reply returner needs a settle timeout, an apiserver check, an observer and a clock")
	}
	ticker := time.NewTicker(r.SettleTimeout / 4)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			r.sweep(ctx)
		}
	}
}

// sweep returns the overdue replies to the broker, if the apiserver answers.
func (r *ReplyReturner) sweep(ctx context.Context) {
	cutoff := r.Clock.Now().Add(-r.SettleTimeout)
	if r.Inbox.countOverdue(cutoff) == 0 {
		return
	}
	if err := r.APIServerReady(ctx); err != nil {
		if !r.holding {
			r.Log.Info("Replies held: the apiserver does not answer", "error", err.Error())
		}
		r.holding = true
		return
	}
	r.holding = false
	for _, back := range r.Inbox.takeBackOverdue(cutoff) {
		it := back.item
		r.Observer.ReplyReturned()
		log := r.Log.WithValues("saga", back.key.String(), "messageID", it.Delivery.MessageId,
			"unsettledFor", r.Clock.Since(it.Received).Round(time.Millisecond).String(), "failedPasses", it.failedPasses)
		log.Info("Reply returned to the broker; its saga's passes keep failing")
		// On a closed channel the broker has requeued the delivery already.
		if err := it.Delivery.Nack(false, true); err != nil {
			log.V(1).Info("Reply not returned; its channel is closed", "error", err.Error())
		}
	}
}

// Check is a readiness check: it fails while a reply has stayed unsettled
// longer than StuckAfter.
func (r *ReplyReturner) Check(_ *http.Request) error {
	n, oldest := r.Inbox.UnsettledReplies()
	if n == 0 {
		return nil
	}
	if age := r.Clock.Since(oldest); age > r.StuckAfter() {
		return fmt.Errorf("%d replies unsettled, the oldest for %s (more than %s)", n, age.Round(time.Second), r.StuckAfter())
	}
	return nil
}
