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

// Package tracing carries W3C trace context through AMQP headers, from the
// operator to participants and back, and exports spans with OpenTelemetry
// when an endpoint is configured (off by default).
//
// Every saga has one trace: its trace id and root span id are derived from
// the saga's uid, so that the spans of all its commands, sent from any
// reconcile pass or operator replica, and all its participants' spans, join
// the same trace without a span kept open across passes.
package tracing

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation name of the operator's and the SDK's spans.
const Name = "github.com/ordersaga/ordersaga-operator"

// Tracer returns the tracer of the operator and the SDK.
func Tracer() trace.Tracer { return otel.Tracer(Name) }

// propagator is the W3C trace context propagator; it is used whether or
// not spans are exported, so that context always flows.
var propagator = propagation.TraceContext{}

// Setup exports spans over OTLP/gRPC to endpoint (host:port), as service.
// With an empty endpoint it installs nothing: spans are not recorded, but
// trace context still flows through messages. The returned function flushes
// and stops the exporter.
func Setup(ctx context.Context, endpoint, service string, insecure bool) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagator)
	if endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(endpoint)}
	if insecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	exporter, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName(service))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// SagaContext returns ctx with the saga's root span context as remote
// parent: a trace id and span id derived from the saga's uid.
func SagaContext(ctx context.Context, sagaUID string) context.Context {
	sum := sha256.Sum256([]byte("ordersaga/" + sagaUID))
	var tid trace.TraceID
	var sid trace.SpanID
	copy(tid[:], sum[:16])
	copy(sid[:], sum[16:24])
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// SagaTraceID returns the trace id of a saga.
func SagaTraceID(sagaUID string) trace.TraceID {
	return trace.SpanContextFromContext(SagaContext(context.Background(), sagaUID)).TraceID()
}

// Inject writes ctx's trace context into AMQP headers.
func Inject(ctx context.Context, headers map[string]any) {
	propagator.Inject(ctx, headerCarrier(headers))
}

// Extract reads the trace context of AMQP headers into ctx.
func Extract(ctx context.Context, headers map[string]any) context.Context {
	return propagator.Extract(ctx, headerCarrier(headers))
}

// headerCarrier adapts an AMQP header table to the propagator.
type headerCarrier map[string]any

func (h headerCarrier) Get(key string) string {
	v, _ := h[strings.ToLower(key)].(string)
	return v
}

func (h headerCarrier) Set(key, value string) { h[strings.ToLower(key)] = value }

func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}
