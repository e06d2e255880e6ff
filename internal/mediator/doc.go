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

// Package mediator is the operator's in-process bus, in the spirit of .NET's
// MediatR. Everything that crosses a boundary inside the operator goes
// through it, so that logging and dispatch metrics ([Behaviour]s) are written
// once instead of in every handler:
//
//   - Steps of a pipeline (the reconcile pass): the caller names its handler
//     and [Call] runs it inside the behaviours. A reader jumps from the
//     pipeline to each handler in one click, and each step's request and
//     response are types of their own.
//   - Requests whose sender must not know the handler: commands that come
//     from outside the reconcile loop and queries answered from the cache.
//     Each request type has exactly one handler, registered with [Handle];
//     the sender holds a [Sender] resolved at start-up by [SenderFor], so a
//     missing handler stops the operator at start, not on first use.
//   - Notifications: facts announced once and fanned out to every subscriber
//     registered with [Subscribe] (Kubernetes Events, metrics, logs), through
//     a [Publisher] from [PublisherFor].
//
// A [Mediator] is built once from a [Builder] and is immutable, so it is
// safe for concurrent use. See Example for the wiring.
//
// # Why typed senders resolved at start-up
//
// A mediator keyed by type must look the handler up by reflect.Type and
// convert it back from any. [SenderFor] and [PublisherFor] do both once and
// hand back plain typed functions; the per-call path has no map look-up and
// no boxing. Behaviours are not generic and never see requests or responses:
// they get an [Info] naming what is dispatched and a [Next] to continue.
//
// Panics are not recovered here: controller-runtime recovers a panicking
// reconcile and reports it, and the other callers (event handlers, consumers)
// must not hide one either.
package mediator
