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
	"log"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/pgstore"
)

// A payment service whose charges live in its own database: a charge and
// the record of the command that made it commit together.
func ExampleTx() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://payment@db:5432/payment?pool_max_conns=10")
	if err != nil {
		log.Fatal(err)
	}
	store, err := pgstore.New(ctx, pool, pgstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	p, err := participant.New(participant.Options{URL: "amqp://payment:secret@rabbitmq:5672/", Service: "payment", Store: store})
	if err != nil {
		log.Fatal(err)
	}
	p.Handle("ChargePayment", func(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
		tx, ok := pgstore.Tx(ctx)
		if !ok {
			return nil, participant.Fail("NoTransaction", "the participant does not run with pgstore")
		}
		var id string
		if err := tx.QueryRow(ctx, `INSERT INTO charges (order_id, amount) VALUES ($1, $2) RETURNING id`,
			cmd.Order.ID, cmd.Order.Total.Amount).Scan(&id); err != nil {
			return nil, participant.Retry("DatabaseUnavailable", "%v", err)
		}
		return participant.Result{"chargeId": id}, nil
	})
	p.Compensate("RefundPayment", func(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
		tx, _ := pgstore.Tx(ctx)
		// Nothing to refund (the charge never ran) is success.
		_, err := tx.Exec(ctx, `UPDATE charges SET refunded = true WHERE id = $1`, cmd.StepResult(cmd.Step, "chargeId"))
		return nil, err
	})
	log.Fatal(p.Run(ctx))
}
