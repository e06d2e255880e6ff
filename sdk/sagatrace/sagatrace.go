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

// Package sagatrace carries W3C trace context through AMQP headers, from the
// operator to participants and back. It records nothing itself: spans are
// exported only where a program installs an OpenTelemetry tracer provider.
//
// Every saga has one trace: its trace id and root span id are derived from
// the saga's uid, so that the spans of all its commands, sent from any
// reconcile pass or operator replica, and all its participants' spans, join
// the same trace without a span kept open across passes.
package sagatrace

import (
	"context"
	"crypto/sha256"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation name of the operator's and the SDK's spans.
const Name = "github.com/ordersaga/ordersaga-operator"

// Tracer returns the tracer of the operator and the SDK.
func Tracer() trace.Tracer { return otel.Tracer(Name) }

// propagator is the W3C trace context propagator. Inject and Extract use it
// whether or not spans are exported, so that context always flows.
var propagator = propagation.TraceContext{}

// Propagator returns the propagator Inject and Extract use, for a program
// that installs it as OpenTelemetry's global one.
func Propagator() propagation.TextMapPropagator { return propagator }

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
