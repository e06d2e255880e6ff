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

// Package registry registers participant services with a running operator,
// for the suites, the demo and the benchmark.
package registry

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/poll"
)

// Register creates (or updates) the Participants and waits until the
// operator of commandExchange has declared and bound each one's queue (its
// status names the queue and every routing key), so that a participant can
// start consuming.
func Register(ctx context.Context, c client.Client, commandExchange string, participants ...*ordersv1alpha1.Participant) error {
	for _, p := range participants {
		existing := &ordersv1alpha1.Participant{}
		err := c.Get(ctx, types.NamespacedName{Name: p.Name}, existing)
		switch {
		case err == nil:
			existing.Spec = p.Spec
			err = c.Update(ctx, existing)
		case client.IgnoreNotFound(err) == nil:
			err = c.Create(ctx, p.DeepCopy())
		}
		if err != nil {
			return fmt.Errorf("register participant %s: %w", p.Name, err)
		}
	}
	names := make([]string, len(participants))
	for i, p := range participants {
		names[i] = p.Name
	}
	return WaitBound(ctx, c, commandExchange, names...)
}

// WaitBound waits until the operator of commandExchange has declared and
// bound the queue of each named Participant: its status names that
// operator's queue and every routing key. (Participants are cluster-scoped:
// another operator, of another topology, may have written their status.)
func WaitBound(ctx context.Context, c client.Client, commandExchange string, names ...string) error {
	for _, name := range names {
		bound := func() bool {
			got := &ordersv1alpha1.Participant{}
			return c.Get(ctx, types.NamespacedName{Name: name}, got) == nil && got.Status.Queue == commandExchange+"."+name &&
				len(got.Status.RoutingKeys) == len(got.Spec.Commands)+len(got.Spec.Compensations)
		}
		if err := poll.Until(ctx, 30*time.Second, bound); err != nil {
			return fmt.Errorf("wait for participant %s's queue: %w", name, err)
		}
	}
	return nil
}
