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

// Package pgstore is a participant store in PostgreSQL (pgx), for
// production. What a participant did survives its restarts, and the
// handler's own writes commit in one transaction with the record of the
// command's outcome (the inbox pattern, as in the inbox of MassTransit's
// Entity Framework Core transactional outbox): a participant killed in the
// middle of a command does its work once, not twice.
//
//	pool, err := pgxpool.New(ctx, "postgres://payment@db:5432/payment") // MaxConns > Concurrency
//	store, err := pgstore.New(ctx, pool, pgstore.Options{})             // creates its tables
//	p, err := participant.New(participant.Options{URL: brokerURL, Service: "payment", Store: store})
//	p.Handle("ChargePayment", func(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
//		tx, _ := pgstore.Tx(ctx) // the command's transaction: write the effect in it
//		var id string
//		if err := tx.QueryRow(ctx, `INSERT INTO charges (order_id, amount) VALUES ($1, $2) RETURNING id`,
//			cmd.Order.ID, cmd.Order.Total.Amount).Scan(&id); err != nil {
//			return nil, participant.Retry("DatabaseUnavailable", "%v", err)
//		}
//		return participant.Result{"chargeId": id}, nil
//	})
//
// # What commits
//
// For each command the SDK begins a transaction and locks the command's
// idempotency key in it. A message or a key with a record is answered from
// it. Otherwise the handler runs, and:
//
//   - on success, its writes and the outcome commit together; then the SDK
//     replies, then acknowledges the command;
//   - on a final failure (participant.Fail, a panic, an invalid result) its
//     writes are undone (a savepoint) and the failure is recorded and
//     committed: a failed command took no effect;
//   - on a retryable failure (participant.Retry, any other error, or a
//     transaction the handler left broken) everything is rolled back and
//     nothing is recorded: the next attempt, or a copy of the message, runs
//     the handler again.
//
// A crash before the commit leaves neither the effect nor the record, and
// the redelivered command runs once more; a crash after it leaves both, and
// the redelivery is answered from the record.
//
// The transaction holds what the handler writes through Tx, nothing else. An
// effect outside the database (a call to a payment gateway) is not undone
// by a rollback: make it idempotent by cmd.IdempotencyKey (most gateways
// take one), so that running the command again does no harm.
//
// # Several instances
//
// Instances of a service that share the database (and a queue, without
// participant.Options.SingleActiveConsumer) never run one key at once: the
// second waits for the first one's transaction, then answers from its
// record. A compensation's tombstone waits the same way for a command in
// progress on another instance, so that a command and the tombstone that
// refuses it never both commit.
//
// # Tables and connections
//
// New creates the schema (Options.Schema, default "ordersaga") and its
// tables if they are missing, and brings them up to date; instances that
// start together take turns. Once they exist, the service may run as a role
// that can only read and write them. Each command in progress holds one of
// the pool's connections until it is answered: give the pool more than the
// participant's Concurrency, and twice as many if handlers also query the
// pool outside their transaction.
//
// A participant that dies with a transaction open holds its key until
// PostgreSQL notices that the connection is gone: at once when the socket
// closes (the process was killed), after the server's TCP keepalives when
// the network is lost; until then, its redelivered commands wait.
//
// Records are kept until Store.Forget deletes them: call it now and then
// (docs/protocol.md, "How long to remember", says how far back; days are
// safe).
package pgstore
