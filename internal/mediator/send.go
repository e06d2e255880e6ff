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
	"fmt"
	"reflect"
)

// Sender is a pre-resolved, pre-composed dispatch function for one request
// type.
type Sender[Req, Resp any] func(ctx context.Context, req Req) (Resp, error)

// SenderFor resolves the handler for Req at start-up. It fails with an error
// wrapping ErrNoHandler if none is registered, or ErrResponseType if the
// handler's response type is not Resp. The returned Sender does no map
// lookup and no reflection per call; with no behaviours it is the handler
// itself.
func SenderFor[Req, Resp any](m *Mediator) (Sender[Req, Resp], error) {
	run, h, err := resolve[Req, Resp](m)
	if err != nil {
		return nil, err
	}
	if run == nil {
		return h, nil
	}
	return func(ctx context.Context, req Req) (Resp, error) {
		return dispatch(ctx, run, h, req)
	}, nil
}

// MustSenderFor is SenderFor that panics on error, for wiring at start-up
// where a missing handler is a programming error.
func MustSenderFor[Req, Resp any](m *Mediator) Sender[Req, Resp] {
	s, err := SenderFor[Req, Resp](m)
	if err != nil {
		panic(err)
	}
	return s
}

// Send dispatches req to its handler, resolving the handler on every call.
// It is the convenience form and is slower than a Sender from SenderFor,
// which hot paths should hold instead.
func Send[Req, Resp any](ctx context.Context, m *Mediator, req Req) (Resp, error) {
	run, h, err := resolve[Req, Resp](m)
	if err != nil {
		var zero Resp
		return zero, err
	}
	return dispatch(ctx, run, h, req)
}

func resolve[Req, Resp any](m *Mediator) (chain, func(context.Context, Req) (Resp, error), error) {
	t := reflect.TypeFor[Req]()
	route, ok := m.requests[t]
	if !ok {
		return nil, nil, fmt.Errorf("%w for request %s", ErrNoHandler, t)
	}
	h, ok := route.handler.(func(context.Context, Req) (Resp, error))
	if !ok {
		return nil, nil, fmt.Errorf("%w: request %s is handled with response %s, not %s",
			ErrResponseType, t, route.respType, reflect.TypeFor[Resp]())
	}
	return route.run, h, nil
}

// dispatch runs the handler inside the behaviour chain. The response is
// captured by the innermost closure rather than passed through the
// behaviours, which never see it.
func dispatch[Req, Resp any](ctx context.Context, run chain, h func(context.Context, Req) (Resp, error), req Req) (Resp, error) {
	if run == nil {
		return h(ctx, req)
	}
	var resp Resp
	err := run(ctx, func(ctx context.Context) error {
		var err error
		resp, err = h(ctx, req)
		return err
	})
	return resp, err
}
