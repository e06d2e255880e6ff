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
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// DefaultSchema is the schema of the store's tables unless Options names
// another.
const DefaultSchema = "ordersaga"

// Options configure a Store.
type Options struct {
	// Schema is the PostgreSQL schema that holds the store's tables
	// (idempotency_keys, message_replies, schema_migrations); default
	// DefaultSchema. New creates it if it is missing. Several services may
	// share one: their keys and message ids never collide.
	Schema string
}

// Store is a participant.TxStore in PostgreSQL: the outcomes of idempotency
// keys (compensation tombstones included: a tombstone is the outcome of the
// command it refuses) and the replies to message ids, each with the time it
// was recorded. It is safe for concurrent use, and for instances of a
// service that share the database.
type Store struct {
	records
	pool *pgxpool.Pool
}

var _ participant.TxStore = (*Store)(nil)

// New returns a Store on pool, whose tables it creates or brings up to
// date first (see Options.Schema). Each command in progress holds one of
// pool's connections: give the pool more than the participant's
// Concurrency.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if opts.Schema == "" {
		opts.Schema = DefaultSchema
	}
	if len(opts.Schema) > maxIdentifierLength {
		return nil, fmt.Errorf("pgstore: schema name %q is longer than %d bytes", opts.Schema, maxIdentifierLength)
	}
	if err := migrate(ctx, pool, opts.Schema); err != nil {
		return nil, fmt.Errorf("pgstore: prepare schema %s: %w", opts.Schema, err)
	}
	return &Store{records: records{q: pool, sql: newStatements(opts.Schema)}, pool: pool}, nil
}

// Begin implements participant.TxStore.
func (s *Store) Begin(ctx context.Context) (participant.StoreTx, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: begin: %w", err)
	}
	return &storeTx{records: records{q: tx, sql: s.sql}, tx: tx}, nil
}

// Forget deletes the records made before a time, and returns how many it
// deleted. Call it now and then, with a time far enough back that no copy
// of those messages can still be started: docs/protocol.md ("How long to
// remember") says how far; days are a safe margin.
func (s *Store) Forget(ctx context.Context, recordedBefore time.Time) (int64, error) {
	var deleted int64
	for _, query := range []string{s.sql.forgetOutcomes, s.sql.forgetReplies} {
		tag, err := s.pool.Exec(ctx, query, recordedBefore)
		if err != nil {
			return deleted, fmt.Errorf("pgstore: forget records: %w", err)
		}
		deleted += tag.RowsAffected()
	}
	return deleted, nil
}

// querier is what the records need of a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// records implements participant.Store on a pool (outside any transaction)
// or within a transaction.
type records struct {
	q   querier
	sql statements
}

// Reply implements participant.Store.
func (r records) Reply(ctx context.Context, messageID string) (protocol.Reply, bool, error) {
	return r.query(ctx, r.sql.reply, messageID)
}

// Outcome implements participant.Store.
func (r records) Outcome(ctx context.Context, key string) (protocol.Reply, bool, error) {
	return r.query(ctx, r.sql.outcome, key)
}

// Record implements participant.Store.
func (r records) Record(ctx context.Context, messageID, key string, reply protocol.Reply) error {
	body, err := json.Marshal(reply)
	if err != nil {
		return fmt.Errorf("pgstore: encode reply: %w", err)
	}
	final := reply.Status != protocol.StatusRetryable && key != ""
	if _, err := r.q.Exec(ctx, r.sql.record, messageID, key, body, final); err != nil {
		return fmt.Errorf("pgstore: record reply to %s: %w", messageID, err)
	}
	return nil
}

// RecordOutcomeIfAbsent implements participant.Store. A key that another
// transaction has locked or is recording makes it wait for that
// transaction.
func (r records) RecordOutcomeIfAbsent(ctx context.Context, key string, outcome protocol.Reply) (protocol.Reply, error) {
	body, err := json.Marshal(outcome)
	if err != nil {
		return protocol.Reply{}, fmt.Errorf("pgstore: encode outcome: %w", err)
	}
	// The insert returns nothing if the key has an outcome already; the
	// select, a statement of its own, then sees it. Forget may delete it in
	// between: then the insert is tried again.
	for range 3 {
		got, inserted, err := r.query(ctx, r.sql.recordOutcomeIfAbsent, key, body)
		if err != nil || inserted {
			return got, err
		}
		if got, found, err := r.query(ctx, r.sql.outcome, key); err != nil || found {
			return got, err
		}
	}
	return protocol.Reply{}, fmt.Errorf("pgstore: record outcome of %s: the key's record was deleted three times while recording it", key)
}

// query runs a query of one reply column and decodes its row, if any.
func (r records) query(ctx context.Context, sql string, args ...any) (protocol.Reply, bool, error) {
	var body []byte
	if err := r.q.QueryRow(ctx, sql, args...).Scan(&body); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return protocol.Reply{}, false, nil
		}
		return protocol.Reply{}, false, fmt.Errorf("pgstore: read record: %w", err)
	}
	var reply protocol.Reply
	if err := json.Unmarshal(body, &reply); err != nil {
		return protocol.Reply{}, false, fmt.Errorf("pgstore: decode record: %w", err)
	}
	return reply, true, nil
}
