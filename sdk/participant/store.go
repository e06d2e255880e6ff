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

	"github.com/go-logr/logr"

	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Store remembers what a participant did, so that a redelivered command or
// a retried attempt is answered without doing the work twice.
//
// In production, set Options.Store to a persistent TxStore, such as
// sdk/pgstore's PostgreSQL store: the handler's own writes and the record of
// its outcome then commit in one transaction, so that neither a restart nor
// a crash in the middle of a command can make its effect happen twice. The
// default MemoryStore keeps its promise only for the life of the process:
// it is for tests and demos.
//
// A persistent Store may forget an entry once no copy of its message can
// still be started: docs/protocol.md ("How long to remember") says when.
// Instances of a service that share a queue without a single active consumer
// must share their Store, and RecordOutcomeIfAbsent must then be atomic.
//
// storetest.Run checks that a Store keeps this contract.
type Store interface {
	// Reply returns the reply recorded for a message id.
	Reply(ctx context.Context, messageID string) (protocol.Reply, bool, error)
	// Outcome returns the final outcome recorded for an idempotency key.
	Outcome(ctx context.Context, key string) (protocol.Reply, bool, error)
	// Record records the reply to a message id (replacing the one recorded
	// before, if any) and, if the reply is final (not retryable) and key is
	// not empty, the outcome of its idempotency key unless the key has one
	// already: the first final outcome of a key wins.
	Record(ctx context.Context, messageID, key string, reply protocol.Reply) error
	// RecordOutcomeIfAbsent records an outcome for a key unless the key has
	// one already, and returns the outcome the key now has.
	RecordOutcomeIfAbsent(ctx context.Context, key string, outcome protocol.Reply) (protocol.Reply, error)
}

// TxStore is a Store that handles each command in a transaction of its own
// (the inbox pattern): the handler's own writes, made through the
// transaction its context carries, and the record of the command's outcome
// commit together, or not at all. A crash before the commit leaves neither,
// so the redelivered command runs once more, and once only; a crash after it
// leaves both, and the redelivery is answered from the record.
//
// With a TxStore the SDK, for each command:
//
//  1. begins a transaction and locks the command's idempotency key in it (an
//     instance that shares the store and handles the same key waits);
//  2. answers from the record if the message or the key has one;
//  3. runs the handler through StoreTx.Handle: its writes are kept if it
//     succeeds and undone otherwise;
//  4. records a final outcome (success or failure) and commits, then
//     replies; a retryable outcome is rolled back and recorded nowhere, so
//     that a copy of the message runs again.
type TxStore interface {
	Store
	// Begin starts the transaction in which one command is handled.
	Begin(ctx context.Context) (StoreTx, error)
}

// StoreTx is the transaction of one command. Its Store methods read and
// write within the transaction; RecordOutcomeIfAbsent waits for a key that
// another transaction holds, so that a compensation's tombstone and the
// command it refuses never both commit.
type StoreTx interface {
	Store
	// Lock holds key until the transaction ends: another transaction that
	// locks the key or records an outcome for it waits until then.
	Lock(ctx context.Context, key string) error
	// Handle calls handle with a context that carries the transaction, for
	// the handler's own writes. They are kept if handle's reply is a success
	// and undone otherwise; the transaction goes on either way. An error
	// means the handler's writes could be neither kept nor undone: the
	// transaction must be rolled back.
	Handle(ctx context.Context, handle func(context.Context) protocol.Reply) (protocol.Reply, error)
	// Commit commits the transaction.
	Commit(ctx context.Context) error
	// Rollback rolls the transaction back; after Commit it does nothing.
	Rollback(ctx context.Context) error
}

// MemoryStore is a Store in memory, for tests and demos. It is bounded:
// beyond its capacity it forgets the least recently used entries (size it to
// hold every message of the sagas in progress), and it forgets everything
// when the process ends. A participant that crashes in the middle of a
// command then does the work again when the command is redelivered: the
// effect happens twice. A participant that runs with a MemoryStore says so
// in its log when it starts. In production use a persistent TxStore
// (sdk/pgstore).
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
	if _, ok := m.entries["k/"+key]; !ok && reply.Status != protocol.StatusRetryable && key != "" {
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

// warnIfInMemory says, once, at start, that a participant keeps its records
// in memory: what a crash can then cost is worth a line in every log.
func warnIfInMemory(log logr.Logger, store Store) {
	if _, ok := store.(*MemoryStore); ok {
		log.Info("Outcomes are kept in memory only: a crash in the middle of a command makes its effect happen again when it is redelivered; use a persistent store such as sdk/pgstore in production",
			"store", "MemoryStore")
	}
}
