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
	"fmt"
	"strings"
	"sync"
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

// blockingDeadLetterer holds every dead-letter until released, as a broker
// slow to confirm would.
type blockingDeadLetterer struct {
	release chan struct{}
	mu      sync.Mutex
	details []string
}

func (d *blockingDeadLetterer) DeadLetter(_ context.Context, _ amqp.Delivery, _, detail string) error {
	<-d.release
	d.mu.Lock()
	defer d.mu.Unlock()
	d.details = append(d.details, detail)
	return nil
}

type reasonCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *reasonCounter) ReplyReceived(string) {}
func (c *reasonCounter) ReplyReturned()       {}
func (c *reasonCounter) ReplyDeadLettered(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[reason]++
}

// Bad replies are counted at once and dead-lettered in the background: a
// good reply behind a flood of them reaches its saga's inbox before any of
// their dead-letters is confirmed, and what the participant sent is quoted
// only briefly in the dead-letter's detail.
func TestReplyRouterDeadLettersWithoutHoldingUpGoodReplies(t *testing.T) {
	g := NewWithT(t)
	dead := &blockingDeadLetterer{release: make(chan struct{})}
	counter := &reasonCounter{counts: map[string]int{}}
	inbox := controller.NewInbox()
	router := &controller.ReplyRouter{Inbox: inbox, DeadLetters: dead, Observer: counter, Log: logr.Discard()}
	good := protocol.Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: testUID, Step: "pay",
		Kind: protocol.KindCommand, Attempt: 1}
	forged := []string{"..", "a/b", "x%2f", "kube-system/../x", strings.Repeat("n", 100_000)}
	for i := range 50 {
		headers := good.Table()
		headers[protocol.HeaderSagaNamespace] = forged[i%len(forged)]
		router.Handle(context.Background(), amqp.Delivery{MessageId: fmt.Sprintf("bad-%d", i), CorrelationId: "c",
			ContentType: protocol.ContentType, Headers: headers, Body: []byte(`{"status":"succeeded"}`)})
	}
	router.Handle(context.Background(), amqp.Delivery{MessageId: "good", CorrelationId: "c",
		ContentType: protocol.ContentType, Headers: good.Table(), Body: []byte(`{"status":"succeeded"}`)})

	g.Expect(inbox.Len()).To(Equal(1), "the good reply is queued while the dead-letters wait for their confirms")
	g.Expect(counter.counts).To(Equal(map[string]int{protocol.RejectInvalidHeader: 50}))
	close(dead.release)
	router.Wait()
	g.Expect(dead.details).To(HaveLen(50))
	for _, detail := range dead.details {
		g.Expect(len(detail)).To(BeNumerically("<=", 1024+len("…")))
		g.Expect(detail).To(ContainSubstring(protocol.HeaderSagaNamespace))
	}
}
