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
	m, err := mb.Build()
	if err != nil {
		b.Fatalf("Build: %v", err)
	}
	return m
}

func benchSender(b *testing.B, standard bool) {
	b.Helper()
	send := mediator.MustSenderFor[ApplyReplies, Applied](benchMediator(b, standard))
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
// as in a default deployment), Metrics and Recover.
func BenchmarkSender_Standard(b *testing.B) { benchSender(b, true) }

// BenchmarkSend_Lookup measures the per-call look-up of Send, with no
// behaviours, to compare with BenchmarkSender_NoBehaviours.
func BenchmarkSend_Lookup(b *testing.B) {
	m := benchMediator(b, false)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := mediator.Send[ApplyReplies, Applied](ctx, m, ApplyReplies{Count: 1})
		if err != nil {
			b.Fatal(err)
		}
		sink = resp
	}
}

// BenchmarkPublish publishes to three subscribers, each wrapped in the
// Standard behaviours.
func BenchmarkPublish(b *testing.B) {
	m := benchMediator(b, true)
	ctx := context.Background()
	b.Run("PublisherFor", func(b *testing.B) {
		publish := mediator.PublisherFor[StepCompleted](m)
		b.ReportAllocs()
		for b.Loop() {
			if err := publish(ctx, StepCompleted{Step: stepReserve}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Publish", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := mediator.Publish(ctx, m, StepCompleted{Step: stepReserve}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
