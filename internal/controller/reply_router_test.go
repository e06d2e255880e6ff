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
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga-operator/internal/controller"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
	"github.com/ordersaga/ordersaga-operator/sdk/sagatrace"
)

// The "receive reply" span carries the attributes docs/observability.md
// promises, and continues the participant's span. It needs no broker and no
// apiserver: the router only checks the reply and queues it in the inbox.
func TestReceiveReplySpan(t *testing.T) {
	g := NewWithT(t)
	// The global provider: the router's tracer is the global one. The
	// controller suite installs its own in BeforeSuite.
	recorder := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder)))

	participantSpan := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: sagatrace.SagaTraceID(testUID), SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceFlags: trace.FlagsSampled, Remote: true,
	})
	headers := protocol.Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: testUID, Step: "pay",
		Kind: protocol.KindCompensation, Round: 1, Attempt: 2, Deadline: time.Now().Add(time.Minute)}.Table()
	sagatrace.Inject(trace.ContextWithRemoteSpanContext(context.Background(), participantSpan), headers)

	inbox := controller.NewInbox()
	router := &controller.ReplyRouter{Inbox: inbox, Log: logr.Discard()}
	router.Handle(context.Background(), amqp.Delivery{
		MessageId: "reply-1", CorrelationId: "command-1", ContentType: protocol.ContentType, Type: protocol.ReplyType,
		Headers: headers, Body: []byte(`{"status":"succeeded"}`),
	})
	g.Expect(inbox.Len()).To(Equal(1), "the reply is queued for its saga")

	g.Expect(recorder.Ended()).To(HaveLen(1))
	span := recorder.Ended()[0]
	g.Expect(span.Name()).To(Equal("receive reply"))
	g.Expect(span.SpanKind()).To(Equal(trace.SpanKindConsumer))
	g.Expect(span.Parent()).To(Equal(participantSpan), "a child of the participant's span")
	g.Expect(span.Attributes()).To(ConsistOf(
		attribute.String("ordersaga.saga", "shop/order-1"),
		attribute.String("ordersaga.step", "pay"),
		attribute.String("ordersaga.kind", "compensation"),
		attribute.Int("ordersaga.attempt", 2),
		attribute.String("ordersaga.reply.status", "succeeded"),
		attribute.String("messaging.message.id", "reply-1"),
		attribute.String("messaging.message.correlation_id", "command-1"),
	))
}
