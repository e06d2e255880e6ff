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

// Package pgtest is what the SDK's tests need of the local PostgreSQL: its
// URL, and a database of their own for each test.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ServerURL is the server the SDK's tests use: the local PostgreSQL that
// "make test" ensures (hack/ensure-postgres.sh: 127.0.0.1:5432, user
// postgres, trust authentication), unless ORDERSAGA_TEST_POSTGRES_URL says
// otherwise. It names a database to connect to for creating others.
func ServerURL() string {
	if u := os.Getenv("ORDERSAGA_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// NewDatabase creates a database that no other test (or run) shares and
// returns its URL; the database is dropped when the test ends, with any
// connection still open to it.
func NewDatabase(t *testing.T) string {
	t.Helper()
	name := "ordersaga_test_" + strings.ToLower(rand.Text()[:12])
	server := ServerURL()
	exec(t, server, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() { exec(t, server, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`) })
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("parse %s: %v", server, err)
	}
	u.Path = "/" + name
	return u.String()
}

// NewPool returns a pool of at most maxConns connections to a database of
// its own (NewDatabase), closed when the test ends.
func NewPool(t *testing.T, maxConns int32) (*pgxpool.Pool, string) {
	t.Helper()
	dbURL := NewDatabase(t)
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("parse %s: %v", dbURL, err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", dbURL, err)
	}
	t.Cleanup(pool.Close) // before the database is dropped: cleanups run last in, first out
	return pool, dbURL
}

func exec(t *testing.T, server, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect to PostgreSQL at %s (run hack/ensure-postgres.sh, or make postgres): %v", server, err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(fmt.Errorf("%s: %w", sql, err))
	}
}
