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
	"slices"
	"strconv"
)

var (
	// ErrNoHandler means no handler is registered for a request type.
	ErrNoHandler = errors.New("mediator: no handler registered")
	// ErrResponseType means a request's handler returns a different response
	// type than the one it was asked for with.
	ErrResponseType = errors.New("mediator: response type mismatch")
	// ErrDuplicateHandler means a request type got more than one handler.
	ErrDuplicateHandler = errors.New("mediator: duplicate handler")
	// ErrNilHandler means a nil handler or subscriber was registered.
	ErrNilHandler = errors.New("mediator: nil handler")
	// ErrNilBehaviour means a nil behaviour was passed to Use.
	ErrNilBehaviour = errors.New("mediator: nil behaviour")
)

// Kind tells what a behaviour is wrapping, for behaviours that label what
// they record.
type Kind int

const (
	// KindStep is a pipeline step run with Call.
	KindStep Kind = iota + 1 // starts at 1 so that an unset Kind stands out
	// KindRequest is a command or query: exactly one handler, with a response.
	KindRequest
	// KindNotification is one subscriber's call for a notification.
	KindNotification
)

// String returns "step", "request" or "notification", the values used in
// log lines and metric labels.
func (k Kind) String() string {
	switch k {
	case KindStep:
		return "step"
	case KindRequest:
		return "request"
	case KindNotification:
		return "notification"
	default:
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Info describes what a behaviour is wrapping.
type Info struct {
	Kind Kind
	// Name is the request or notification type's name without its package
	// path, e.g. "ApplyReplies".
	Name string
}

// Next continues the dispatch: the next behaviour, or the handler itself.
type Next func(ctx context.Context) error

// Behaviour wraps a dispatch. It may act before and after calling next or
// change the context it passes on. A behaviour that does not call next
// short-circuits the dispatch, which then yields the zero response and the
// behaviour's error.
type Behaviour func(ctx context.Context, info Info, next Next) error

// Builder collects handlers, subscribers and behaviours; Build validates and
// freezes them. A Builder is not safe for concurrent use: wiring happens on
// one goroutine.
type Builder struct {
	requests      map[reflect.Type]*requestReg
	requestOrder  []reflect.Type // registration order, for stable errors
	notifications map[reflect.Type]*notificationReg
	behaviours    []Behaviour
	errs          []error // invalid registrations, in the order they were made
}

type requestReg struct {
	info     Info
	respType reflect.Type
	handler  any // func(context.Context, Req) (Resp, error)
	count    int
}

type notificationReg struct {
	info     Info
	handlers any // []func(context.Context, N) error
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{
		requests:      make(map[reflect.Type]*requestReg),
		notifications: make(map[reflect.Type]*notificationReg),
	}
}

// Handle registers the single handler for request type Req. A second
// handler for the same Req makes Build fail: a request that silently went to
// whichever handler came last would be a wiring bug that only shows at run
// time.
func Handle[Req, Resp any](b *Builder, h func(ctx context.Context, req Req) (Resp, error)) {
	t := reflect.TypeFor[Req]()
	if h == nil {
		b.errs = append(b.errs, fmt.Errorf("%w for request %s", ErrNilHandler, t))
		return
	}
	if r, ok := b.requests[t]; ok {
		r.count++
		return
	}
	b.requests[t] = &requestReg{
		info:     Info{Kind: KindRequest, Name: typeName(t)},
		respType: reflect.TypeFor[Resp](),
		handler:  h,
		count:    1,
	}
	b.requestOrder = append(b.requestOrder, t)
}

// Subscribe adds a subscriber of notification type N. Any number may be
// added; they are called in registration order.
func Subscribe[N any](b *Builder, h func(ctx context.Context, n N) error) {
	t := reflect.TypeFor[N]()
	if h == nil {
		b.errs = append(b.errs, fmt.Errorf("%w for notification %s", ErrNilHandler, t))
		return
	}
	r, ok := b.notifications[t]
	if !ok {
		r = &notificationReg{info: Info{Kind: KindNotification, Name: typeName(t)}}
		b.notifications[t] = r
	}
	hs, _ := r.handlers.([]func(context.Context, N) error)
	// Clipping makes append copy, so a Mediator built earlier never sees
	// subscribers added to the Builder afterwards.
	r.handlers = append(slices.Clip(hs), h)
}

// Use appends behaviours; the first one added is the outermost.
func (b *Builder) Use(behaviours ...Behaviour) {
	for _, bh := range behaviours {
		if bh == nil {
			b.errs = append(b.errs, fmt.Errorf("%w at position %d", ErrNilBehaviour, len(b.behaviours)))
			continue
		}
		b.behaviours = append(b.behaviours, bh)
	}
}

// Build returns an error listing every invalid or duplicate registration
// (joined with errors.Join), else the Mediator. The Mediator keeps its own
// copy of the registrations: using the Builder afterwards does not change it.
func (b *Builder) Build() (*Mediator, error) {
	errs := slices.Clone(b.errs)
	for _, t := range b.requestOrder {
		if r := b.requests[t]; r.count > 1 {
			errs = append(errs, fmt.Errorf("%w for request %s: registered %d times", ErrDuplicateHandler, t, r.count))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m := &Mediator{
		run:           compose(slices.Clone(b.behaviours)),
		requests:      make(map[reflect.Type]requestRoute, len(b.requests)),
		notifications: make(map[reflect.Type]notificationRoute, len(b.notifications)),
	}
	for t, r := range b.requests {
		m.requests[t] = requestRoute{info: r.info, respType: r.respType, handler: r.handler}
	}
	for t, r := range b.notifications {
		m.notifications[t] = notificationRoute{info: r.info, handlers: r.handlers}
	}
	return m, nil
}

// Mediator dispatches steps, requests and notifications. It is immutable
// and therefore safe for concurrent use.
type Mediator struct {
	// run is the behaviour chain, composed once; nil when there are none.
	run           chain
	requests      map[reflect.Type]requestRoute
	notifications map[reflect.Type]notificationRoute
}

type requestRoute struct {
	info     Info
	respType reflect.Type
	handler  any // func(context.Context, Req) (Resp, error)
}

type notificationRoute struct {
	info     Info
	handlers any // []func(context.Context, N) error
}

// chain runs the composed behaviours around inner, the per-call closure
// that calls the handler.
type chain func(ctx context.Context, info Info, inner Next) error

// compose folds the behaviours into one chain, once per Mediator: per call
// only the closures that continue the chain are made. It returns nil for no
// behaviours so that dispatch can call the handler directly.
func compose(behaviours []Behaviour) chain {
	if len(behaviours) == 0 {
		return nil
	}
	last := behaviours[len(behaviours)-1]
	c := chain(last)
	for _, bh := range slices.Backward(behaviours[:len(behaviours)-1]) {
		next := c
		c = func(ctx context.Context, info Info, inner Next) error {
			return bh(ctx, info, func(ctx context.Context) error { return next(ctx, info, inner) })
		}
	}
	return c
}

// typeName is the name behaviours see: the type's name without its package
// path, with a "*" per pointer level, or the type's string if it is unnamed.
func typeName(t reflect.Type) string {
	if t.Name() != "" {
		return t.Name()
	}
	if t.Kind() == reflect.Pointer {
		return "*" + typeName(t.Elem())
	}
	return t.String()
}
