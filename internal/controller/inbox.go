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
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

// InboxItem is an event for one saga that came from outside the apiserver:
// a participant's reply (with its delivery, acknowledged once the status
// that records it is persisted) or a dispatch that failed.
type InboxItem struct {
	// Delivery is the AMQP delivery of a reply; nil for a dispatch failure.
	Delivery *amqp.Delivery
	// Event is a saga.ReplyReceived or a saga.DispatchFailed.
	Event    saga.Event
	Received time.Time

	// seq numbers the items in the order they were added: a pass that
	// started after an item was added had it in view.
	seq uint64
	// failedPasses counts the passes that had the item in view and ended
	// without settling it (an error, a panic, a view stale twice).
	failedPasses int
}

// Inbox holds the items of each saga until a reconcile pass has dealt with
// them, and wakes exactly that saga's reconcile. Its size follows the
// consumer's prefetch (replies are acknowledged only when taken out), plus
// the deliveries of a consumer channel that closed, which stay until their
// saga's next pass settles them with the redelivered copies.
//
// It also knows which sagas have a pass running (StartPass), so that a reply
// is returned to the broker (ReplyReturner) only when its saga's passes
// failed to settle it, and never while a pass may still settle it.
type Inbox struct {
	mu    sync.Mutex
	items map[types.NamespacedName][]*InboxItem
	// passes holds the sagas with a pass running, each with the seq of the
	// last item added when the pass started.
	passes map[types.NamespacedName]uint64
	seq    uint64
	events chan event.GenericEvent
}

// NewInbox returns an empty Inbox.
func NewInbox() *Inbox {
	return &Inbox{
		items:  map[types.NamespacedName][]*InboxItem{},
		passes: map[types.NamespacedName]uint64{},
		events: make(chan event.GenericEvent, 1024),
	}
}

// Events is the channel that triggers reconciles; the controller watches it.
func (in *Inbox) Events() <-chan event.GenericEvent { return in.events }

// Add queues an item for a saga and wakes its reconcile. It blocks while
// 1024 wake-ups are pending, which slows the consumer down rather than
// dropping anything.
func (in *Inbox) Add(key types.NamespacedName, item *InboxItem) {
	in.mu.Lock()
	in.seq++
	item.seq = in.seq
	in.items[key] = append(in.items[key], item)
	in.mu.Unlock()
	in.wake(key)
}

// StartPass records that a pass over the saga begins, and returns the
// function that records its end; call it deferred, so that a pass that
// panics ends too. The items the pass had in view and left unsettled count
// a failed pass each; until it ends, none of the saga's replies is returned
// to the broker.
func (in *Inbox) StartPass(key types.NamespacedName) (end func()) {
	in.mu.Lock()
	in.passes[key] = in.seq
	in.mu.Unlock()
	return func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		inView := in.passes[key]
		delete(in.passes, key)
		for _, it := range in.items[key] {
			if it.seq <= inView {
				it.failedPasses++
			}
		}
	}
}

func (in *Inbox) wake(key types.NamespacedName) {
	obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	in.events <- event.GenericEvent{Object: obj}
}

// Peek returns the saga's pending items without removing them.
func (in *Inbox) Peek(key types.NamespacedName) []*InboxItem {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]*InboxItem(nil), in.items[key]...)
}

// Remove takes the given items out of the saga's queue.
func (in *Inbox) Remove(key types.NamespacedName, done []*InboxItem) {
	if len(done) == 0 {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	gone := make(map[*InboxItem]bool, len(done))
	for _, it := range done {
		gone[it] = true
	}
	kept := in.items[key][:0]
	for _, it := range in.items[key] {
		if !gone[it] {
			kept = append(kept, it)
		}
	}
	if len(kept) == 0 {
		delete(in.items, key)
		return
	}
	in.items[key] = kept
}

// UnsettledReplies returns how many replies are held, not yet acknowledged,
// dead-lettered or returned, and when the oldest of them was received (zero
// if none).
func (in *Inbox) UnsettledReplies() (n int, oldest time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, items := range in.items {
		for _, it := range items {
			if it.Delivery == nil {
				continue
			}
			n++
			if oldest.IsZero() || it.Received.Before(oldest) {
				oldest = it.Received
			}
		}
	}
	return n, oldest
}

// overdue says an item is a reply received before cutoff that a failed
// pass left unsettled. The caller holds the lock and has checked that the
// saga has no pass running.
func overdue(it *InboxItem, cutoff time.Time) bool {
	return it.Delivery != nil && it.failedPasses > 0 && it.Received.Before(cutoff)
}

// countOverdue counts the overdue replies of sagas with no pass running.
func (in *Inbox) countOverdue(cutoff time.Time) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for key, items := range in.items {
		if _, running := in.passes[key]; running {
			continue
		}
		for _, it := range items {
			if overdue(it, cutoff) {
				n++
			}
		}
	}
	return n
}

// takeBackOverdue takes the overdue replies of sagas with no pass running
// out of the inbox, and returns them.
func (in *Inbox) takeBackOverdue(cutoff time.Time) []returnedReply {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []returnedReply
	for key, items := range in.items {
		if _, running := in.passes[key]; running {
			continue
		}
		kept := items[:0]
		for _, it := range items {
			if overdue(it, cutoff) {
				out = append(out, returnedReply{key: key, item: it})
			} else {
				kept = append(kept, it)
			}
		}
		if len(kept) == 0 {
			delete(in.items, key)
		} else {
			in.items[key] = kept
		}
	}
	return out
}

// returnedReply is a reply taken back from a saga's inbox.
type returnedReply struct {
	key  types.NamespacedName
	item *InboxItem
}

// Len returns the number of pending items, for metrics and tests.
func (in *Inbox) Len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, items := range in.items {
		n += len(items)
	}
	return n
}
