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

// Command crashparticipant is the participant that sdk/pgstore's crash test
// kills: a payment service whose Charge handler records its effect, a row in
// the table effects, then works for a while, so that a kill finds commands
// in the middle. With -store=postgres the row is written in the command's
// transaction (pgstore.Tx); with -store=memory it is written at once, as a
// service without a transactional store writes its effects, and outcomes
// are remembered in memory.
//
// It prints "effect <key>" once a handler has made its effect and
// "finished <key>" when the handler returns, so that the test knows which
// commands are between the two.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/pgstore"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashparticipant:", err)
		os.Exit(1)
	}
}

func run() error {
	broker := flag.String("broker", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ URL")
	database := flag.String("database", "", "PostgreSQL URL of the service's database, with a table effects (key text, message_id text, pid int)")
	exchange := flag.String("exchange", "", "the command exchange")
	storeKind := flag.String("store", "postgres", "where outcomes are recorded: postgres or memory")
	concurrency := flag.Int("concurrency", 8, "commands handled at once")
	prefetch := flag.Int("prefetch", 30, "commands taken from the broker at once")
	work := flag.Duration("work", 100*time.Millisecond, "mean time a command takes, after its effect")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg, err := pgxpool.ParseConfig(*database)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(*concurrency) + 4 //nolint:gosec // a small flag
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	// Connect before taking commands: a handler that had to connect first
	// (a new PostgreSQL backend each) could be killed before its effect.
	if err := warmUp(ctx, pool, *concurrency+1); err != nil {
		return err
	}

	var store participant.Store
	var recordEffect func(ctx context.Context, cmd *participant.Command) error
	switch *storeKind {
	case "postgres":
		if store, err = pgstore.New(ctx, pool, pgstore.Options{Schema: "payment"}); err != nil {
			return err
		}
		recordEffect = func(ctx context.Context, cmd *participant.Command) error {
			tx, ok := pgstore.Tx(ctx)
			if !ok {
				return participant.Fail("NoTransaction", "the handler's context carries no transaction")
			}
			_, err := tx.Exec(ctx, `INSERT INTO effects (key, message_id, pid) VALUES ($1, $2, $3)`, cmd.IdempotencyKey, cmd.MessageID, os.Getpid())
			return err
		}
	case "memory":
		store = participant.NewMemoryStore(0)
		recordEffect = func(ctx context.Context, cmd *participant.Command) error {
			_, err := pool.Exec(ctx, `INSERT INTO effects (key, message_id, pid) VALUES ($1, $2, $3)`, cmd.IdempotencyKey, cmd.MessageID, os.Getpid())
			return err
		}
	default:
		return fmt.Errorf("unknown store %q", *storeKind)
	}

	p, err := participant.New(participant.Options{
		URL: *broker, Service: "payment", CommandExchange: *exchange, Store: store,
		Concurrency: *concurrency, Prefetch: *prefetch,
		Log: funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) }, funcr.Options{}),
	})
	if err != nil {
		return err
	}
	p.Handle("Charge", func(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
		defer fmt.Println("finished", cmd.IdempotencyKey)
		if err := recordEffect(ctx, cmd); err != nil {
			return nil, err
		}
		fmt.Println("effect", cmd.IdempotencyKey)
		// The work that follows the effect: a kill in the middle of it
		// finds the effect made and the command not answered.
		select {
		case <-time.After(*work/2 + rand.N(*work)): //nolint:gosec // jitter
		case <-ctx.Done():
			return nil, participant.Retry("Interrupted", "%v", ctx.Err())
		}
		return participant.Result{"pid": os.Getpid()}, nil
	})
	return p.Run(ctx)
}

// warmUp opens n of pool's connections.
func warmUp(ctx context.Context, pool *pgxpool.Pool, n int) error {
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	return nil
}
