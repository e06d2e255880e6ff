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

// Package mediator is a small, typed, in-process mediator in the spirit of
// .NET's MediatR. The reconciler uses it to dispatch its sub-steps as
// requests (one handler each, with a response) and to announce domain facts
// as notifications (any number of subscribers, e.g. "step completed" records
// an Event and updates metrics), so that cross-cutting concerns — logging,
// metrics, panic recovery — are written once as behaviours instead of being
// repeated in every step.
//
// # Wiring
//
// Handlers and behaviours are registered on a [Builder]; [Builder.Build]
// validates the registrations (a request type may have only one handler) and
// returns an immutable [Mediator] that is safe for concurrent use:
//
//	b := mediator.NewBuilder()
//	mediator.Handle(b, r.applyReplies)       // func(context.Context, ApplyReplies) (Outcome, error)
//	mediator.Subscribe(b, r.recordEvent)     // func(context.Context, StepCompleted) error
//	std, err := mediator.Standard(metrics.Registry)
//	...
//	b.Use(std...)
//	m, err := b.Build()
//	...
//	r.applyReplies = mediator.MustSenderFor[ApplyReplies, Outcome](m)
//	r.stepCompleted = mediator.PublisherFor[StepCompleted](m)
//
// # Why typed senders resolved at start-up
//
// A mediator keyed by type must look the handler up by reflect.Type and
// convert it back from any. [SenderFor] and [PublisherFor] do both once,
// when the controller is wired, and hand back a plain typed function
// ([Sender], [Publisher]). That has two benefits:
//
//   - A missing handler or a handler registered with a different response
//     type is reported at start-up (as [ErrNoHandler] or [ErrResponseType]),
//     not on the first reconcile that happens to need it.
//   - The per-call path has no map lookup, no reflection and no boxing of
//     the request or response into any: the behaviour chain around the
//     handler is composed once, at [Builder.Build], and the response travels
//     back through it by closure capture, because behaviours are not generic
//     and never see it. The only per-call cost of a behaviour is the small
//     closure that continues the chain.
//
// [Send] and [Publish] are the convenience forms that do the look-up on every
// call; they are fine for cold paths and tests but slower, so hot paths hold
// a Sender or Publisher.
//
// # Behaviours and their order
//
// A [Behaviour] wraps every request dispatch and every individual
// notification handler call; it gets an [Info] naming what is being
// dispatched and a [Next] to continue. The first behaviour passed to
// [Builder.Use] is the outermost. Because each subscriber call is wrapped on
// its own, a subscriber that fails or panics (with [Recover] installed) does
// not stop the others; [Publish] returns errors.Join of their errors.
//
// [Standard] returns [Logging], [Metrics] and [Recover] in that order.
// Recover is innermost so that it turns a handler's panic into a
// [*PanicError] before the outer behaviours see the result: logging and
// metrics then record the panic as an ordinary error outcome (metrics label
// it "panic") instead of being unwound past by it. Logging is outermost so
// that the duration it logs includes the other behaviours' work.
package mediator
