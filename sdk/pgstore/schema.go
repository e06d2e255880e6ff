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
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// maxIdentifierLength is PostgreSQL's limit on a name (NAMEDATALEN - 1):
// a longer one would be cut silently.
const maxIdentifierLength = 63

// migrations bring a schema from one version to the next: migrations[i]
// makes version i+1. Add to the end; never change one that has shipped.
// "{schema}." stands for the schema. Replies are stored as json, not jsonb, so
// that they come back byte for byte (a number keeps its notation).
var migrations = []string{
	`CREATE TABLE {schema}.idempotency_keys (
		key text PRIMARY KEY,
		-- NULL while a transaction holds the key before its outcome is known
		outcome json,
		recorded_at timestamptz NOT NULL DEFAULT now()
	);
	CREATE INDEX idempotency_keys_recorded_at ON {schema}.idempotency_keys (recorded_at);
	CREATE TABLE {schema}.message_replies (
		message_id text PRIMARY KEY,
		idempotency_key text NOT NULL,
		reply json NOT NULL,
		recorded_at timestamptz NOT NULL DEFAULT now()
	);
	CREATE INDEX message_replies_recorded_at ON {schema}.message_replies (recorded_at);`,
}

// statements are the store's queries on one schema.
type statements struct {
	reply, outcome, record, recordOutcomeIfAbsent, lock string
	forgetOutcomes, forgetReplies                       string
}

func newStatements(schema string) statements {
	keys := pgx.Identifier{schema, "idempotency_keys"}.Sanitize()
	replies := pgx.Identifier{schema, "message_replies"}.Sanitize()
	return statements{
		reply:   `SELECT reply FROM ` + replies + ` WHERE message_id = $1`,
		outcome: `SELECT outcome FROM ` + keys + ` WHERE key = $1 AND outcome IS NOT NULL`,
		// The key's outcome only if the reply is final and the key has none
		// (the first final outcome wins); the message's reply in any case.
		record: `WITH outcome AS (
				INSERT INTO ` + keys + ` AS k (key, outcome) SELECT $2::text, $3::json WHERE $4::boolean
				ON CONFLICT (key) DO UPDATE SET outcome = excluded.outcome, recorded_at = now() WHERE k.outcome IS NULL
			)
			INSERT INTO ` + replies + ` AS r (message_id, idempotency_key, reply) VALUES ($1, $2, $3)
			ON CONFLICT (message_id) DO UPDATE
			SET idempotency_key = excluded.idempotency_key, reply = excluded.reply, recorded_at = now()`,
		recordOutcomeIfAbsent: `INSERT INTO ` + keys + ` AS k (key, outcome) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET outcome = excluded.outcome, recorded_at = now() WHERE k.outcome IS NULL
			RETURNING outcome`,
		// An upsert that changes nothing still locks the row it conflicts
		// with, or the row it inserts: either way the key is held.
		lock: `INSERT INTO ` + keys + ` AS k (key) VALUES ($1)
			ON CONFLICT (key) DO UPDATE SET key = excluded.key`,
		forgetOutcomes: `DELETE FROM ` + keys + ` WHERE recorded_at < $1`,
		forgetReplies:  `DELETE FROM ` + replies + ` WHERE recorded_at < $1`,
	}
}

// migrate creates the schema and its tables, or brings them up to date, in
// one transaction. Instances that start together take turns (an advisory
// lock): concurrent CREATE TABLE IF NOT EXISTS can fail. A schema already
// up to date needs no privilege beyond reading it, so that a service may
// run as a role that cannot change it.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock(schema)); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	versions := pgx.Identifier{schema, "schema_migrations"}.Sanitize()
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, versions).Scan(&exists); err != nil {
		return fmt.Errorf("look for %s: %w", versions, err)
	}
	if !exists {
		if err := createSchema(ctx, tx, schema, versions); err != nil {
			return err
		}
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+versions).Scan(&version); err != nil {
		return fmt.Errorf("read the schema's version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("the schema is at version %d, newer than this SDK's %d", version, len(migrations))
	}
	quoted := pgx.Identifier{schema}.Sanitize() + "."
	for v := version + 1; v <= len(migrations); v++ {
		if _, err := tx.Exec(ctx, strings.ReplaceAll(migrations[v-1], "{schema}.", quoted)); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+versions+` (version) VALUES ($1)`, v); err != nil {
			return fmt.Errorf("record version %d: %w", v, err)
		}
	}
	return tx.Commit(ctx)
}

// createSchema creates the schema unless it exists (CREATE SCHEMA IF NOT
// EXISTS needs the database's CREATE privilege even then) and the table of
// versions.
func createSchema(ctx context.Context, tx pgx.Tx, schema, versions string) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
		return fmt.Errorf("look for schema: %w", err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE `+versions+` (
		version integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("create %s: %w", versions, err)
	}
	return nil
}

// migrationLock is the advisory lock that migrations of schema take.
func migrationLock(schema string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("ordersaga pgstore migration " + schema))
	return int64(h.Sum64()) //nolint:gosec // a lock id: any 64 bits will do
}
