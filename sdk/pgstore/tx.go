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

package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Tx returns the transaction of the command that a handler's ctx belongs
// to, for the handler's own writes: they commit with the record of the
// command's outcome if the handler succeeds, and are undone if it fails.
// The SDK commits: the returned Tx refuses Commit and Rollback (Begin, a
// savepoint within it, may be committed or rolled back as usual). Use it
// from the handler's goroutine only, and only until the handler returns.
// ok is false if ctx is not a handler's of a participant that runs with a
// Store of this package.
func Tx(ctx context.Context) (tx pgx.Tx, ok bool) {
	tx, ok = ctx.Value(txKey{}).(pgx.Tx)
	return tx, ok
}

type txKey struct{}

// ErrCommittedBySDK is what the handler's Tx returns from Commit and
// Rollback.
var ErrCommittedBySDK = errors.New("pgstore: the participant SDK commits or rolls back the handler's transaction")

// handlerTx is the savepoint a handler writes in; its end is the SDK's.
type handlerTx struct{ pgx.Tx }

func (handlerTx) Commit(context.Context) error   { return ErrCommittedBySDK }
func (handlerTx) Rollback(context.Context) error { return ErrCommittedBySDK }

// storeTx implements participant.StoreTx.
type storeTx struct {
	records
	tx pgx.Tx
}

// Lock implements participant.StoreTx. It inserts the key's row (or locks
// the row there is): a second transaction that does the same for the key,
// or records an outcome for it, waits until this one ends.
func (t *storeTx) Lock(ctx context.Context, key string) error {
	if _, err := t.tx.Exec(ctx, t.sql.lock, key); err != nil {
		return fmt.Errorf("pgstore: lock key %s: %w", key, err)
	}
	return nil
}

// Handle implements participant.StoreTx: handle writes within a savepoint,
// released if its reply is a success and rolled back to otherwise.
func (t *storeTx) Handle(ctx context.Context, handle func(context.Context) protocol.Reply) (protocol.Reply, error) {
	savepoint, err := t.tx.Begin(ctx)
	if err != nil {
		return protocol.Reply{}, fmt.Errorf("pgstore: start the handler's savepoint: %w", err)
	}
	reply := handle(context.WithValue(ctx, txKey{}, pgx.Tx(handlerTx{savepoint})))
	if reply.Status == protocol.StatusSucceeded {
		if err := savepoint.Commit(ctx); err != nil {
			return protocol.Reply{}, fmt.Errorf("pgstore: keep the handler's writes: %w", err)
		}
		return reply, nil
	}
	if err := savepoint.Rollback(ctx); err != nil {
		return protocol.Reply{}, fmt.Errorf("pgstore: undo the handler's writes: %w", err)
	}
	return reply, nil
}

// Commit implements participant.StoreTx.
func (t *storeTx) Commit(ctx context.Context) error {
	if err := t.tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: commit: %w", err)
	}
	return nil
}

// Rollback implements participant.StoreTx.
func (t *storeTx) Rollback(ctx context.Context) error {
	if err := t.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("pgstore: roll back: %w", err)
	}
	return nil
}
