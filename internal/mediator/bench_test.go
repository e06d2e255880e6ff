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

package mediator_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersaga/ordersaga-operator/internal/mediator"
)

// sink keeps the compiler from optimising the dispatched calls away.
var sink Applied

func benchMediator(b *testing.B, standard bool) *mediator.Mediator {
	b.Helper()
	mb := mediator.NewBuilder()
	mediator.Handle(mb, applyReplies)
	for range 3 {
		mediator.Subscribe(mb, func(context.Context, StepCompleted) error { return nil })
	}
	if standard {
		behaviours, err := mediator.Standard(prometheus.NewRegistry())
		if err != nil {
			b.Fatalf("Standard: %v", err)
		}
		mb.Use(behaviours...)
	}
	return mustBuild(b, mb)
}

func benchSender(b *testing.B, standard bool) {
	b.Helper()
	send := mustSender[ApplyReplies, Applied](b, benchMediator(b, standard))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := send(ctx, ApplyReplies{Count: 1})
		if err != nil {
			b.Fatal(err)
		}
		sink = resp
	}
}

// BenchmarkSender_NoBehaviours is the floor: the Sender is the handler.
func BenchmarkSender_NoBehaviours(b *testing.B) { benchSender(b, false) }

// BenchmarkSender_Standard is the production path: Logging (V(1) disabled,
// as in a default deployment) and Metrics.
func BenchmarkSender_Standard(b *testing.B) { benchSender(b, true) }

// BenchmarkCall_Standard is a pipeline step on the production path.
func BenchmarkCall_Standard(b *testing.B) {
	m := benchMediator(b, true)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := mediator.Call(ctx, m, applyReplies, ApplyReplies{Count: 1})
		if err != nil {
			b.Fatal(err)
		}
		sink = resp
	}
}

// BenchmarkPublisher publishes to three subscribers, each wrapped in the
// Standard behaviours.
func BenchmarkPublisher(b *testing.B) {
	publish := mediator.PublisherFor[StepCompleted](benchMediator(b, true))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := publish(ctx, StepCompleted{Step: stepReserve}); err != nil {
			b.Fatal(err)
		}
	}
}
