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
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersaga/ordersaga-operator/internal/mediator"
)

// The shapes of the operator's traffic, reduced to what the example needs.
type (
	// AdvanceSaga is a step of the reconcile pass; SagaAdvanced its result.
	AdvanceSaga  struct{ Saga string }
	SagaAdvanced struct{ Transitions []string }
	// GetSaga is a query answered from the cache.
	GetSaga   struct{ Name string }
	SagaState struct{ Name, Phase string }
	// SagaTransitioned is a notification fanned out to Events, metrics, logs.
	SagaTransitioned struct{ Saga, Reason string }
)

type reconciler struct {
	bus      *mediator.Mediator
	notify   mediator.Publisher[SagaTransitioned]
	getSaga  mediator.Sender[GetSaga, SagaState]
	phases   map[string]string
	recorded []string
}

func (r *reconciler) advanceSaga(_ context.Context, req AdvanceSaga) (SagaAdvanced, error) {
	r.phases[req.Saga] = "Running"
	return SagaAdvanced{Transitions: []string{"Started"}}, nil
}

func (r *reconciler) querySaga(_ context.Context, q GetSaga) (SagaState, error) {
	return SagaState{Name: q.Name, Phase: r.phases[q.Name]}, nil
}

// pass is a pipeline: each step names its handler, so a reader jumps to it.
func (r *reconciler) pass(ctx context.Context, saga string) error {
	advanced, err := mediator.Call(ctx, r.bus, r.advanceSaga, AdvanceSaga{Saga: saga})
	if err != nil {
		return err
	}
	for _, reason := range advanced.Transitions {
		if err := r.notify(ctx, SagaTransitioned{Saga: saga, Reason: reason}); err != nil {
			return err
		}
	}
	return nil
}

func Example() {
	r := &reconciler{phases: map[string]string{}}

	// Wiring, once at start-up: handlers of requests, subscribers of
	// notifications, and the behaviours every dispatch goes through.
	b := mediator.NewBuilder()
	mediator.Handle(b, r.querySaga)
	mediator.Subscribe(b, func(_ context.Context, n SagaTransitioned) error {
		r.recorded = append(r.recorded, "Event "+n.Reason)
		return nil
	})
	mediator.Subscribe(b, func(_ context.Context, n SagaTransitioned) error {
		r.recorded = append(r.recorded, "metric "+n.Reason)
		return nil
	})
	behaviours, err := mediator.Standard(prometheus.NewRegistry())
	if err != nil {
		panic(err)
	}
	b.Use(behaviours...)
	bus, err := b.Build()
	if err != nil {
		panic(err)
	}
	r.bus = bus
	r.notify = mediator.PublisherFor[SagaTransitioned](bus)
	// A missing handler fails here, at start-up, not on first use.
	if r.getSaga, err = mediator.SenderFor[GetSaga, SagaState](bus); err != nil {
		panic(err)
	}

	ctx := context.Background()
	if err := r.pass(ctx, "order-1001"); err != nil {
		panic(err)
	}
	state, err := r.getSaga(ctx, GetSaga{Name: "order-1001"})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.recorded)
	fmt.Println(state.Name, state.Phase)
	// Output:
	// [Event Started metric Started]
	// order-1001 Running
}
