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

// Package broker is the operator's side of RabbitMQ, on top of the SDK's
// amqpconn package (the supervised connection, confirmed publishes and the
// consumer loop): the operator's topology (command exchange, reply queue,
// dead-letter exchange and queue), dead-lettering of unusable replies with
// their reason, and the connection's place in the controller-runtime manager
// (a Runnable on every replica, a readiness check).
package broker
