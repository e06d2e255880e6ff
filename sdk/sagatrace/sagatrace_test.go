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

package sagatrace

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestSagaContextIsDerivedFromTheUID(t *testing.T) {
	a, b := SagaTraceID("uid-1"), SagaTraceID("uid-1")
	if !a.IsValid() || a != b {
		t.Fatalf("trace ids %s and %s: want one valid id per saga", a, b)
	}
	if SagaTraceID("uid-2") == a {
		t.Fatal("two sagas share a trace id")
	}
	sc := trace.SpanContextFromContext(SagaContext(context.Background(), "uid-1"))
	if !sc.IsRemote() || !sc.IsSampled() || !sc.SpanID().IsValid() {
		t.Fatalf("saga root span context %+v", sc)
	}
}

func TestTraceContextRoundTripsThroughAMQPHeaders(t *testing.T) {
	ctx := SagaContext(context.Background(), "uid-1")
	headers := map[string]any{"x-saga-step": "pay"}
	Inject(ctx, headers)
	if _, ok := headers["traceparent"].(string); !ok {
		t.Fatalf("no traceparent header: %v", headers)
	}
	got := trace.SpanContextFromContext(Extract(context.Background(), headers))
	if got.TraceID() != SagaTraceID("uid-1") {
		t.Fatalf("extracted trace id %s", got.TraceID())
	}
	if headers["x-saga-step"] != "pay" {
		t.Fatal("other headers changed")
	}
	// Headers without trace context leave the context empty.
	if trace.SpanContextFromContext(Extract(context.Background(), map[string]any{})).IsValid() {
		t.Fatal("trace context from nothing")
	}
}
