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

package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// RunTx runs the contract of participant.TxStore (Run's included) against
// stores that open returns, a new empty one for each subtest.
func RunTx(t *testing.T, open func(t *testing.T) participant.TxStore) {
	t.Helper()
	Run(t, func(t *testing.T) participant.Store {
		t.Helper()
		return open(t)
	})
	for _, c := range txContract {
		t.Run(c.name, func(t *testing.T) { c.test(txCase{t, open(t)}) })
	}
}

// txCase is one check of the contract on a new empty store.
type txCase struct {
	t *testing.T
	s participant.TxStore
}

var txContract = []struct {
	name string
	test func(txCase)
}{
	{"RecordsInATransactionAreSeenOnlyAfterItCommits", txCase.recordsInATransactionAreSeenOnlyAfterItCommits},
	{"ARolledBackTransactionRecordsNothing", txCase.aRolledBackTransactionRecordsNothing},
	{"ALockCommittedAloneRecordsNothing", txCase.aLockCommittedAloneRecordsNothing},
	{"ASecondLockOfAKeyWaitsForTheFirstTransaction", txCase.aSecondLockOfAKeyWaitsForTheFirstTransaction},
	{"ALockRolledBackFreesTheKey", txCase.aLockRolledBackFreesTheKey},
	{"RecordingTheOutcomeOfALockedKeyWaitsForItsTransaction", txCase.recordingTheOutcomeOfALockedKeyWaitsForItsTransaction},
	{"HandleReturnsTheReplyOfItsFunction", txCase.handleReturnsTheReplyOfItsFunction},
}

// stillWaiting is how long a transaction that waits for a lock is watched,
// to see that it does wait.
const stillWaiting = 300 * time.Millisecond

func begin(t *testing.T, s participant.TxStore) participant.StoreTx {
	t.Helper()
	tx, err := s.Begin(ctx)
	must(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

func (c txCase) recordsInATransactionAreSeenOnlyAfterItCommits() {
	t, s := c.t, c.s
	key := stepKey
	tx := begin(t, s)
	must(t, tx.Lock(ctx, key))
	must(t, tx.Record(ctx, "m-1", key, succeeded))
	expectReply(t, tx, "m-1", succeeded)
	expectOutcome(t, tx, key, succeeded)
	expectNoReply(t, s, "m-1")
	expectNoOutcome(t, s, key)
	must(t, tx.Commit(ctx))
	expectReply(t, s, "m-1", succeeded)
	expectOutcome(t, s, key, succeeded)
}

func (c txCase) aRolledBackTransactionRecordsNothing() {
	t, s := c.t, c.s
	key := stepKey
	tx := begin(t, s)
	must(t, tx.Lock(ctx, key))
	got, err := tx.RecordOutcomeIfAbsent(ctx, key, declined)
	must(t, err)
	expectEqual(t, "the locked key's outcome", got, declined)
	must(t, tx.Record(ctx, "m-1", key, declined))
	must(t, tx.Rollback(ctx))
	expectNoReply(t, s, "m-1")
	expectNoOutcome(t, s, key)
}

func (c txCase) aLockCommittedAloneRecordsNothing() {
	t, s := c.t, c.s
	key := stepKey
	tx := begin(t, s)
	must(t, tx.Lock(ctx, key))
	must(t, tx.Commit(ctx))
	expectNoOutcome(t, s, key)
	got, err := s.RecordOutcomeIfAbsent(ctx, key, succeeded)
	must(t, err)
	expectEqual(t, "the first outcome after the lock", got, succeeded)
	expectOutcome(t, s, key, succeeded)
}

// lockInBackground locks key in a new transaction and reports on the
// channel when the lock is held.
func lockInBackground(t *testing.T, s participant.TxStore, key string) (participant.StoreTx, <-chan error) {
	t.Helper()
	tx := begin(t, s)
	locked := make(chan error, 1)
	go func() { locked <- tx.Lock(ctx, key) }()
	return tx, locked
}

func expectWaiting(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s did not wait (error %v)", what, err)
	case <-time.After(stillWaiting):
	}
}

func expectDone(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still waits", what)
	}
}

func (c txCase) aSecondLockOfAKeyWaitsForTheFirstTransaction() {
	t, s := c.t, c.s
	key := stepKey
	first := begin(t, s)
	must(t, first.Lock(ctx, key))
	second, locked := lockInBackground(t, s, key)
	expectWaiting(t, locked, "the second lock")
	// Another key is free.
	other := begin(t, s)
	must(t, other.Lock(ctx, "uid/other-step/command/0"))
	must(t, other.Commit(ctx))

	must(t, first.Record(ctx, "m-1", key, succeeded))
	must(t, first.Commit(ctx))
	expectDone(t, locked, "the second lock")
	expectOutcome(t, second, key, succeeded)
	expectReply(t, second, "m-1", succeeded)
}

func (c txCase) aLockRolledBackFreesTheKey() {
	t, s := c.t, c.s
	key := stepKey
	first := begin(t, s)
	must(t, first.Lock(ctx, key))
	must(t, first.Record(ctx, "m-1", key, succeeded))
	second, locked := lockInBackground(t, s, key)
	expectWaiting(t, locked, "the second lock")
	must(t, first.Rollback(ctx))
	expectDone(t, locked, "the second lock")
	expectNoOutcome(t, second, key)
	got, err := second.RecordOutcomeIfAbsent(ctx, key, declined)
	must(t, err)
	expectEqual(t, "the second transaction's outcome", got, declined)
	must(t, second.Commit(ctx))
	expectOutcome(t, s, key, declined)
}

func (c txCase) recordingTheOutcomeOfALockedKeyWaitsForItsTransaction() {
	t, s := c.t, c.s
	key := stepKey
	tx := begin(t, s)
	must(t, tx.Lock(ctx, key))
	tombstone := protocol.Reply{Status: protocol.StatusFailed, Reason: participant.ReasonAlreadyCompensated}
	recorded := make(chan error, 1)
	var got protocol.Reply
	go func() {
		var err error
		got, err = s.RecordOutcomeIfAbsent(ctx, key, tombstone)
		recorded <- err
	}()
	expectWaiting(t, recorded, "recording the tombstone")
	must(t, tx.Record(ctx, "m-1", key, succeeded))
	must(t, tx.Commit(ctx))
	expectDone(t, recorded, "recording the tombstone")
	expectEqual(t, "the outcome the tombstone found", got, succeeded)
	expectOutcome(t, s, key, succeeded)
}

func (c txCase) handleReturnsTheReplyOfItsFunction() {
	t, s := c.t, c.s
	tx := begin(t, s)
	for _, want := range []protocol.Reply{succeeded, declined, retryable} {
		got, err := tx.Handle(ctx, func(hctx context.Context) protocol.Reply {
			if hctx == nil {
				t.Error("Handle gave its function no context")
			}
			return want
		})
		must(t, err)
		expectEqual(t, "Handle's reply", got, want)
	}
	must(t, tx.Commit(ctx))
}
