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

// Package participant is the Go SDK for services that take part in
// ordersaga sagas. Register a handler per command and per compensation, then
// Run: the SDK consumes the service's queue, which the operator declares and
// binds once a Participant resource registers the service (the SDK declares
// nothing, and says the service is not registered until the queue exists),
// and for every command it
//
//   - handles the commands of one saga one at a time, in order, so that a
//     duplicate or a retried attempt of a command still running, or its
//     compensation, waits for it;
//   - drops redeliveries by message id, replaying the reply it sent;
//   - replays the first final outcome of an idempotency key instead of
//     running the handler again (a retried attempt of work already done);
//   - does not start a command whose deadline has passed (a retryable
//     CommandExpired reply, nothing recorded);
//   - records a tombstone when a compensation comes for a command it never
//     ran, so that the command, if it arrives later, is refused, and gives a
//     compensation the outcome of the command it undoes, if it ran here;
//   - calls the handler, turning a panic into a failure reply;
//   - records the outcome, publishes the reply with a publisher confirm, and
//     only then acknowledges the command;
//   - rides out broker restarts, and on shutdown lets the handlers in flight
//     finish while the commands not yet started go back to the queue.
//
// What the participant remembers is in Options.Store. The default,
// MemoryStore, is for tests and demos: a participant killed in the middle of
// a command forgets what it did, and does it again when the command is
// redelivered (it says so in its log when it starts). In production use
// sdk/pgstore, a TxStore in PostgreSQL: the handler writes through the
// command's transaction (pgstore.Tx), its writes commit with the record of
// the outcome, and a crash leaves both or neither (docs/protocol.md,
// "Records that survive a crash").
//
// These promises hold within one process. Instances of a service that share
// a queue keep them when the Participant asks for a single active consumer
// (spec.singleActiveConsumer), or with a shared
// sdk/pgstore (one instance at a time holds a key), or with another Store
// they share and effects idempotent by key (docs/protocol.md, "Several
// instances").
//
// docs/protocol.md is the contract this package implements.
package participant
