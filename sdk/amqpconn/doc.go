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

// Package amqpconn is the RabbitMQ connection code that the operator and the
// participant SDK share, with amqp091-go.
//
// One Conn owns one connection and keeps it up: it dials with backoff,
// declares a topology on every (re)connection, publishes with publisher
// confirms and the mandatory flag on a channel of its own, tracks whether
// the broker blocks publishers, and hands the current connection to
// consumers. A Consumer runs on a channel of its own, starts again after each
// reconnection, and on shutdown cancels its subscription, lets the handlers
// in flight finish and returns the deliveries not yet started to the queue.
//
// amqp091-go's optional automatic recovery is not used: a supervisor loop of
// our own makes every state change explicit (for logs, metrics and readiness)
// and keeps the publisher's confirm and return bookkeeping per connection,
// where it is easy to reason about.
package amqpconn
