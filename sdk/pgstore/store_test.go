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

package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga-operator/sdk/internal/pgtest"
	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/participant/storetest"
	"github.com/ordersaga/ordersaga-operator/sdk/pgstore"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// These tests run against the real PostgreSQL that "make test" ensures,
// each in a database of its own.

var ctx = context.Background()

func TestStoreKeepsTheTxStoreContract(t *testing.T) {
	pool, _ := pgtest.NewPool(t, 20)
	schemas := 0
	storetest.RunTx(t, func(t *testing.T) participant.TxStore {
		t.Helper()
		schemas++ // a new empty store: a schema of its own
		store, err := pgstore.New(ctx, pool, pgstore.Options{Schema: fmt.Sprintf("contract_%d", schemas)})
		if err != nil {
			t.Fatal(err)
		}
		return store
	})
}

func TestNewCreatesTheSchemaOnceWhenInstancesStartTogether(t *testing.T) {
	g := NewWithT(t)
	pool, _ := pgtest.NewPool(t, 10)
	const schema = `Payment "Service"` // any name: it is quoted
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = pgstore.New(ctx, pool, pgstore.Options{Schema: schema}) })
	}
	wg.Wait()
	for _, err := range errs {
		g.Expect(err).NotTo(HaveOccurred())
	}
	store, err := pgstore.New(ctx, pool, pgstore.Options{Schema: schema})
	g.Expect(err).NotTo(HaveOccurred(), "starting again changes nothing")
	g.Expect(store.Record(ctx, "m-1", "k-1", protocol.Reply{Status: protocol.StatusSucceeded})).To(Succeed())

	var versions []int
	rows, err := pool.Query(ctx, `SELECT version FROM `+pgx.Identifier{schema, "schema_migrations"}.Sanitize())
	g.Expect(err).NotTo(HaveOccurred())
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(versions).To(Equal([]int{1}))
}

func TestTheDefaultSchemaIsOrdersaga(t *testing.T) {
	g := NewWithT(t)
	pool, _ := pgtest.NewPool(t, 2)
	_, err := pgstore.New(ctx, pool, pgstore.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	var tables int
	g.Expect(pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`,
		pgstore.DefaultSchema).Scan(&tables)).To(Succeed())
	g.Expect(tables).To(Equal(3))
}

func TestASchemaNewerThanTheSDKIsRefused(t *testing.T) {
	g := NewWithT(t)
	pool, _ := pgtest.NewPool(t, 2)
	_, err := pgstore.New(ctx, pool, pgstore.Options{Schema: "svc"})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = pool.Exec(ctx, `INSERT INTO svc.schema_migrations (version) VALUES (99)`)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = pgstore.New(ctx, pool, pgstore.Options{Schema: "svc"})
	g.Expect(err).To(MatchError(ContainSubstring("newer than this SDK")))
}

func TestASchemaNameLongerThanPostgreSQLKeepsIsRefused(t *testing.T) {
	pool, _ := pgtest.NewPool(t, 2)
	_, err := pgstore.New(ctx, pool, pgstore.Options{Schema: fmt.Sprintf("%064d", 0)})
	NewWithT(t).Expect(err).To(MatchError(ContainSubstring("longer than 63 bytes")))
}

// A service may run as a role that can use the store's tables but not
// change the schema, once it is up to date.
func TestAnUpToDateSchemaNeedsNoPrivilegeToChangeIt(t *testing.T) {
	g := NewWithT(t)
	pool, dbURL := pgtest.NewPool(t, 2)
	_, err := pgstore.New(ctx, pool, pgstore.Options{Schema: "svc"})
	g.Expect(err).NotTo(HaveOccurred())

	role := pgx.Identifier{"ordersaga_test_runtime_" + fmt.Sprint(time.Now().UnixNano())}.Sanitize()
	for _, sql := range []string{
		`CREATE ROLE ` + role + ` LOGIN`,
		`REVOKE CREATE ON DATABASE ` + pgx.Identifier{pool.Config().ConnConfig.Database}.Sanitize() + ` FROM PUBLIC`,
		`GRANT USAGE ON SCHEMA svc TO ` + role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA svc TO ` + role,
	} {
		_, err := pool.Exec(ctx, sql)
		g.Expect(err).NotTo(HaveOccurred(), sql)
	}
	t.Cleanup(func() {
		_, _ = pool.Exec(ctx, `DROP OWNED BY `+role)
		_, _ = pool.Exec(ctx, `DROP ROLE `+role)
	})
	cfg, err := pgxpool.ParseConfig(dbURL)
	g.Expect(err).NotTo(HaveOccurred())
	cfg.ConnConfig.User = role[1 : len(role)-1]
	runtime, err := pgxpool.NewWithConfig(ctx, cfg)
	g.Expect(err).NotTo(HaveOccurred())
	defer runtime.Close()

	store, err := pgstore.New(ctx, runtime, pgstore.Options{Schema: "svc"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(store.Record(ctx, "m-1", "k-1", protocol.Reply{Status: protocol.StatusSucceeded})).To(Succeed())
	_, err = pgstore.New(ctx, runtime, pgstore.Options{Schema: "other"})
	g.Expect(err).To(MatchError(ContainSubstring("permission denied")), "a missing schema it cannot create")
}

func TestForgetDeletesTheRecordsMadeBeforeATime(t *testing.T) {
	g := NewWithT(t)
	pool, _ := pgtest.NewPool(t, 2)
	store, err := pgstore.New(ctx, pool, pgstore.Options{Schema: "svc"})
	g.Expect(err).NotTo(HaveOccurred())
	done := protocol.Reply{Status: protocol.StatusSucceeded}
	g.Expect(store.Record(ctx, "m-old", "k-old", done)).To(Succeed())
	_, err = pool.Exec(ctx, `UPDATE svc.idempotency_keys SET recorded_at = now() - interval '3 days'`)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = pool.Exec(ctx, `UPDATE svc.message_replies SET recorded_at = now() - interval '3 days'`)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(store.Record(ctx, "m-new", "k-new", done)).To(Succeed())

	g.Expect(store.Forget(ctx, time.Now().Add(-48*time.Hour))).To(BeEquivalentTo(2))
	_, ok, err := store.Outcome(ctx, "k-old")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeFalse())
	_, ok, err = store.Reply(ctx, "m-old")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeFalse())
	_, ok, err = store.Outcome(ctx, "k-new")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
}
