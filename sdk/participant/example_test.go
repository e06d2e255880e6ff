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

package participant_test

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// An inventory service: one handler reserves stock, one releases it. Run
// blocks until its context ends.
func Example() {
	p, err := participant.New(participant.Options{
		URL:             brokerURL(),        // amqp://user:password@host:5672/
		Service:         "inventory",        // spec.steps[].service
		CommandExchange: "example.commands", // "<operator's --topology-prefix>.commands"
	})
	if err != nil {
		panic(err)
	}
	p.Handle("ReserveInventory", func(_ context.Context, cmd *participant.Command) (participant.Result, error) {
		if cmd.Order.Items[0].Quantity > 100 {
			return nil, participant.Fail("OutOfStock", "only 100 left of %s", cmd.Order.Items[0].SKU)
		}
		return participant.Result{"reservationId": "res-" + cmd.Order.ID}, nil
	})
	p.Compensate("ReleaseInventory", func(_ context.Context, cmd *participant.Command) (participant.Result, error) {
		_ = cmd.StepResult(cmd.Step, "reservationId") // the reservation to release
		return nil, nil
	})

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { _ = p.Run(ctx) }()

	// What the operator does once a Participant registers the service, then
	// for a saga's step, to show the reply.
	fmt.Println(sendAsTheOperator("example.commands", "inventory.ReserveInventory"))
	// Output: succeeded map[reservationId:res-ORD-1]
}

// sendAsTheOperator publishes one ReserveInventory command and waits for
// the reply, as the operator would.
func sendAsTheOperator(exchange, key string) string {
	conn, _ := amqp.Dial(brokerURL())
	defer func() { _ = conn.Close() }()
	ch, _ := conn.Channel()
	_ = ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil)
	// The service's queue, which the operator declares and binds.
	_, _ = ch.QueueDeclare(exchange+".inventory", true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum})
	_ = ch.QueueBind(exchange+".inventory", "inventory.*", exchange, false, nil)
	replies, _ := ch.QueueDeclare("", false, true, true, false, nil)
	defer func() {
		_, _ = ch.QueueDelete("example.commands.inventory", false, false, false)
		_ = ch.ExchangeDelete(exchange, false, false)
	}()
	h := protocol.Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: "0f8fad5b-d9cb-469f-a165-70867728950e", Step: "reserve-inventory",
		Kind: protocol.KindCommand, Attempt: 1, Deadline: time.Now().Add(time.Minute)}
	body := (`{"messageId":"m-1","kind":"command","name":"ReserveInventory","step":"reserve-inventory",
		"order":{"id":"ORD-1","items":[{"sku":"SKU-1","quantity":2,"unitPrice":"1.00"}]}}`)
	deliveries, _ := ch.Consume(replies.Name, "", true, false, false, false, nil)
	err := ch.Publish(exchange, key, true, false, amqp.Publishing{MessageId: "m-1", ReplyTo: replies.Name,
		ContentType: protocol.ContentType, Headers: h.Table(), Body: []byte(body)})
	if err != nil {
		return err.Error()
	}
	select {
	case d := <-deliveries:
		r, err := protocol.DecodeReply(d.ContentType, d.Body)
		if err != nil {
			return err.Error()
		}
		return fmt.Sprint(r.Status, " ", r.Result)
	case <-time.After(time.Minute):
		return "no reply"
	}
}
