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
	"fmt"
	"reflect"
)

// Call runs one step of a pipeline: the handler the caller names, inside
// the behaviours. The caller knows its handler, and naming it keeps the
// pipeline navigable; the mediator adds what every step shares (logging,
// dispatch metrics). Requests whose sender must not know the handler go
// through a Sender instead.
func Call[Req, Resp any](ctx context.Context, m *Mediator, h func(context.Context, Req) (Resp, error), req Req) (Resp, error) {
	if m.run == nil {
		return h(ctx, req)
	}
	return dispatch(ctx, m.run, Info{Kind: KindStep, Name: typeName(reflect.TypeFor[Req]())}, h, req)
}

// Sender is a pre-resolved dispatch function for one request type.
type Sender[Req, Resp any] func(ctx context.Context, req Req) (Resp, error)

// SenderFor resolves the handler of Req at start-up. It fails with an error
// wrapping ErrNoHandler if none is registered, or ErrResponseType if the
// handler's response type is not Resp.
func SenderFor[Req, Resp any](m *Mediator) (Sender[Req, Resp], error) {
	t := reflect.TypeFor[Req]()
	route, ok := m.requests[t]
	if !ok {
		return nil, fmt.Errorf("%w for request %s", ErrNoHandler, t)
	}
	h, ok := route.handler.(func(context.Context, Req) (Resp, error))
	if !ok {
		return nil, fmt.Errorf("%w: request %s is handled with response %s, not %s",
			ErrResponseType, t, route.respType, reflect.TypeFor[Resp]())
	}
	if m.run == nil {
		return h, nil
	}
	run, info := m.run, route.info
	return func(ctx context.Context, req Req) (Resp, error) {
		return dispatch(ctx, run, info, h, req)
	}, nil
}

// dispatch runs the handler inside the behaviour chain. The response is
// captured by the innermost closure rather than passed through the
// behaviours, which never see it.
func dispatch[Req, Resp any](ctx context.Context, run chain, info Info, h func(context.Context, Req) (Resp, error), req Req) (Resp, error) {
	var resp Resp
	err := run(ctx, info, func(ctx context.Context) error {
		var err error
		resp, err = h(ctx, req)
		return err
	})
	return resp, err
}

// Publisher is a pre-resolved publish function for one notification type.
type Publisher[N any] func(ctx context.Context, n N) error

// PublisherFor resolves the subscribers of N at start-up. Zero subscribers
// is allowed: publishing is then a no-op, so a notification can be announced
// before anything listens to it.
//
// The Publisher calls each subscriber in registration order, each inside
// its own run of the behaviours, so that one failing subscriber does not
// stop the others; it returns errors.Join of their errors.
func PublisherFor[N any](m *Mediator) Publisher[N] {
	route, ok := m.notifications[reflect.TypeFor[N]()]
	// Subscribe only ever stores this slice type under N's key.
	hs, _ := route.handlers.([]func(context.Context, N) error)
	if !ok || len(hs) == 0 {
		return func(context.Context, N) error { return nil }
	}
	run, info := m.run, route.info
	return func(ctx context.Context, n N) error {
		var errs []error
		for _, h := range hs {
			var err error
			if run == nil {
				err = h(ctx, n)
			} else {
				err = run(ctx, info, func(ctx context.Context) error { return h(ctx, n) })
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}
