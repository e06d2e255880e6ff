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

package mediator

import (
	"context"
	"errors"
	"reflect"
)

// Publisher is a pre-resolved, pre-composed publish function for one
// notification type.
type Publisher[N any] func(ctx context.Context, n N) error

// PublisherFor resolves the subscribers of N at start-up. Zero subscribers is
// allowed: publishing is then a no-op, so a notification can be announced
// before anything listens to it.
func PublisherFor[N any](m *Mediator) Publisher[N] {
	run, hs := resolveSubscribers[N](m)
	if len(hs) == 0 {
		return func(context.Context, N) error { return nil }
	}
	return func(ctx context.Context, n N) error {
		return publish(ctx, run, hs, n)
	}
}

// Publish calls every subscriber of N, resolving them on every call. It is
// the convenience form and is slower than a Publisher from PublisherFor.
func Publish[N any](ctx context.Context, m *Mediator, n N) error {
	run, hs := resolveSubscribers[N](m)
	return publish(ctx, run, hs, n)
}

func resolveSubscribers[N any](m *Mediator) (chain, []func(context.Context, N) error) {
	route, ok := m.notifications[reflect.TypeFor[N]()]
	if !ok {
		return nil, nil
	}
	// Subscribe only ever stores this slice type under N's key.
	hs, _ := route.handlers.([]func(context.Context, N) error)
	return route.run, hs
}

// publish calls each subscriber in order, each inside its own run of the
// behaviour chain, so that one failing subscriber does not stop the rest
// (nor, with Recover installed, a panicking one). It returns errors.Join of
// their errors.
func publish[N any](ctx context.Context, run chain, hs []func(context.Context, N) error, n N) error {
	var errs []error
	for _, h := range hs {
		var err error
		if run == nil {
			err = h(ctx, n)
		} else {
			err = run(ctx, func(ctx context.Context) error { return h(ctx, n) })
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
