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

package controller_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	amqp "github.com/rabbitmq/amqp091-go"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ordersaga/ordersaga-operator/internal/controller"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// recordingDeadLetterer keeps the reasons of what it is given.
type recordingDeadLetterer struct{ reasons map[string]string }

func (d *recordingDeadLetterer) DeadLetter(_ context.Context, delivery amqp.Delivery, reason, _ string) error {
	d.reasons[delivery.MessageId] = reason
	return nil
}

// The reply router dead-letters a reply it cannot route with a reason that
// says why, and queues the others in their saga's inbox: the properties and
// header types participants in other languages send are accepted.
func TestReplyRouterChecksTypeHeadersAndBody(t *testing.T) {
	headers := protocol.Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: testUID, Step: "pay",
		Kind: protocol.KindCommand, Round: 0, Attempt: 1, Deadline: time.Now()}
	correlation := protocol.MessageID(testUID, "pay", protocol.KindCommand, 0, 1)
	withHeader := func(key string, v any) amqp.Table {
		table := amqp.Table(headers.Table())
		table[key] = v
		return table
	}
	body := func(r string) []byte { return []byte(r) }
	succeeded := body(`{"status":"succeeded"}`)
	tests := []struct {
		name          string
		typ           string
		headers       amqp.Table
		noCorrelation bool
		body          []byte
		deadLetter    string // "" if routed to the saga
	}{
		{name: "v1 reply", typ: protocol.ReplyType, headers: headers.Table(), body: succeeded},
		{name: "no type is v1", headers: headers.Table(), body: succeeded},
		{name: "amqplib sends small integers as int8", typ: protocol.ReplyType,
			headers: withHeader(protocol.HeaderAttempt, int8(1)), body: succeeded},
		{name: "pika sends int32, others int64", typ: protocol.ReplyType,
			headers: withHeader(protocol.HeaderRound, int64(0)), body: succeeded},
		{name: "JSON scalars as result", typ: protocol.ReplyType, headers: headers.Table(),
			body: body(`{"status":"succeeded","result":{"count":3,"ok":true,"id":"x"}}`)},
		{name: "a later version", typ: "ordersaga.reply.v2", headers: headers.Table(), body: succeeded,
			deadLetter: protocol.RejectUnknownType},
		{name: "the command's type copied", typ: protocol.CommandType, headers: headers.Table(), body: succeeded,
			deadLetter: protocol.RejectUnknownType},
		{name: "attempt as a string", typ: protocol.ReplyType, headers: withHeader(protocol.HeaderAttempt, "1"),
			body: succeeded, deadLetter: protocol.RejectInvalidHeader},
		{name: "round as a float", typ: protocol.ReplyType, headers: withHeader(protocol.HeaderRound, float64(0)),
			body: succeeded, deadLetter: protocol.RejectInvalidHeader},
		{name: "no headers", typ: protocol.ReplyType, body: succeeded, deadLetter: protocol.RejectMissingHeaders},
		{name: "no correlation id", typ: protocol.ReplyType, headers: headers.Table(), noCorrelation: true,
			body: succeeded, deadLetter: protocol.RejectMissingHeaders},
		{name: "a result on a failure", typ: protocol.ReplyType, headers: headers.Table(),
			body: body(`{"status":"failed","reason":"CardDeclined","result":{"paymentId":"p-1"}}`), deadLetter: protocol.RejectInvalid},
		{name: "an object in a result", typ: protocol.ReplyType, headers: headers.Table(),
			body: body(`{"status":"succeeded","result":{"card":{"last4":"4242"}}}`), deadLetter: protocol.RejectInvalid},
		// Saga headers that name no object the apiserver could hold: before
		// they were refused, a live read of such a name failed for ever.
		{name: "namespace ..", typ: protocol.ReplyType, headers: withHeader(protocol.HeaderSagaNamespace, ".."),
			body: succeeded, deadLetter: protocol.RejectInvalidHeader},
		{name: "name a/b", typ: protocol.ReplyType, headers: withHeader(protocol.HeaderSagaName, "a/b"),
			body: succeeded, deadLetter: protocol.RejectInvalidHeader},
		{name: "name x%2f", typ: protocol.ReplyType, headers: withHeader(protocol.HeaderSagaName, "x%2f"),
			body: succeeded, deadLetter: protocol.RejectInvalidHeader},
		{name: "uid not a UUID", typ: protocol.ReplyType, headers: withHeader(protocol.HeaderSagaUID, "uid-1"),
			body: succeeded, deadLetter: protocol.RejectInvalidHeader},
		{name: "uppercase uid", typ: protocol.ReplyType, headers: withHeader(protocol.HeaderSagaUID, strings.ToUpper(testUID)),
			body: succeeded, deadLetter: protocol.RejectInvalidHeader},
		{name: "step not as the API names steps", typ: protocol.ReplyType, headers: withHeader(protocol.HeaderStep, "Pay"),
			body: succeeded, deadLetter: protocol.RejectInvalidHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dead := &recordingDeadLetterer{reasons: map[string]string{}}
			router := &controller.ReplyRouter{Inbox: controller.NewInbox(), DeadLetters: dead, Log: logr.Discard()}
			d := amqp.Delivery{MessageId: "reply-1", CorrelationId: correlation, Type: tt.typ,
				ContentType: protocol.ContentType, Headers: tt.headers, Body: tt.body}
			if tt.noCorrelation {
				d.CorrelationId = ""
			}
			router.Handle(context.Background(), d)
			router.Wait()

			items := router.Inbox.Peek(types.NamespacedName{Namespace: "shop", Name: "order-1"})
			if tt.deadLetter != "" {
				if got := dead.reasons["reply-1"]; got != tt.deadLetter || len(items) != 0 {
					t.Fatalf("dead-lettered as %q with %d inbox items, want %s", got, len(items), tt.deadLetter)
				}
				return
			}
			if len(dead.reasons) != 0 || len(items) != 1 {
				t.Fatalf("dead-lettered %v, %d inbox items: want the reply routed", dead.reasons, len(items))
			}
			ev, ok := items[0].Event.(saga.ReplyReceived)
			if !ok || ev.Headers.Attempt != 1 || ev.Headers.Round != 0 {
				t.Fatalf("event %#v", items[0].Event)
			}
			want := protocol.Reply{}
			if err := json.Unmarshal(tt.body, &want); err != nil {
				t.Fatal(err)
			}
			if len(ev.Reply.Result) != len(want.Result) {
				t.Fatalf("result %v, want %v", ev.Reply.Result, want.Result)
			}
			for k, v := range want.Result {
				if ev.Reply.Result[k] != v {
					t.Fatalf("result %s = %#v, want %#v", k, ev.Reply.Result[k], v)
				}
			}
		})
	}
}
