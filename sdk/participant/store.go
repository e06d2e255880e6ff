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

package participant

import (
	"container/list"
	"context"
	"sync"

	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Store remembers what a participant did, so that a redelivered command or
// a retried attempt is answered without doing the work twice. Give Run a
// persistent Store (a table in the service's own database, written in the
// same transaction as the effect, is best) to keep that promise across
// restarts; the default MemoryStore keeps it for the life of the process.
//
// A persistent Store may forget an entry once no copy of its message can
// still be started: docs/protocol.md ("How long to remember") says when.
// Instances of a service that share a queue without SingleActiveConsumer
// must share their Store, and RecordOutcomeIfAbsent must then be atomic.
type Store interface {
	// Reply returns the reply recorded for a message id.
	Reply(ctx context.Context, messageID string) (protocol.Reply, bool, error)
	// Outcome returns the final outcome recorded for an idempotency key.
	Outcome(ctx context.Context, key string) (protocol.Reply, bool, error)
	// Record records the reply to a message id and, if the reply is final
	// (not retryable), the outcome of its idempotency key.
	Record(ctx context.Context, messageID, key string, reply protocol.Reply) error
	// RecordOutcomeIfAbsent records an outcome for a key unless the key has
	// one already, and returns the outcome the key now has.
	RecordOutcomeIfAbsent(ctx context.Context, key string, outcome protocol.Reply) (protocol.Reply, error)
}

// MemoryStore is a Store in memory, bounded: beyond its capacity it forgets
// the least recently used entries. Size it to hold every message of the
// sagas in progress.
type MemoryStore struct {
	mu       sync.Mutex
	capacity int
	entries  map[string]*list.Element
	order    *list.List // front: most recently used
}

type memoryEntry struct {
	key   string
	reply protocol.Reply
}

// NewMemoryStore returns a MemoryStore of at most capacity entries
// (100000 if capacity <= 0).
func NewMemoryStore(capacity int) *MemoryStore {
	if capacity <= 0 {
		capacity = 100000
	}
	return &MemoryStore{capacity: capacity, entries: map[string]*list.Element{}, order: list.New()}
}

// Reply implements Store.
func (m *MemoryStore) Reply(_ context.Context, messageID string) (protocol.Reply, bool, error) {
	r, ok := m.get("m/" + messageID)
	return r, ok, nil
}

// Outcome implements Store.
func (m *MemoryStore) Outcome(_ context.Context, key string) (protocol.Reply, bool, error) {
	r, ok := m.get("k/" + key)
	return r, ok, nil
}

// Record implements Store.
func (m *MemoryStore) Record(_ context.Context, messageID, key string, reply protocol.Reply) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put("m/"+messageID, reply)
	if reply.Status != protocol.StatusRetryable && key != "" {
		m.put("k/"+key, reply)
	}
	return nil
}

// RecordOutcomeIfAbsent implements Store.
func (m *MemoryStore) RecordOutcomeIfAbsent(_ context.Context, key string, outcome protocol.Reply) (protocol.Reply, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.entries["k/"+key]; ok {
		m.order.MoveToFront(el)
		return el.Value.(*memoryEntry).reply, nil
	}
	m.put("k/"+key, outcome)
	return outcome, nil
}

// Len returns the number of entries.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

func (m *MemoryStore) get(k string) (protocol.Reply, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.entries[k]
	if !ok {
		return protocol.Reply{}, false
	}
	m.order.MoveToFront(el)
	return el.Value.(*memoryEntry).reply, true
}

// put adds or replaces an entry; the caller holds the lock.
func (m *MemoryStore) put(k string, reply protocol.Reply) {
	if el, ok := m.entries[k]; ok {
		el.Value.(*memoryEntry).reply = reply
		m.order.MoveToFront(el)
		return
	}
	m.entries[k] = m.order.PushFront(&memoryEntry{key: k, reply: reply})
	for m.order.Len() > m.capacity {
		oldest := m.order.Back()
		m.order.Remove(oldest)
		delete(m.entries, oldest.Value.(*memoryEntry).key)
	}
}
