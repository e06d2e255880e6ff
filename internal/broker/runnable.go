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

package broker

import (
	"net/http"

	"github.com/go-logr/logr"

	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
)

// Broker is the operator's broker connection: the SDK's supervised
// connection, run by the manager on every replica, with a readiness check.
type Broker struct {
	*amqpconn.Conn
}

// New returns the operator's Broker; the manager starts it. Its connection
// is named "ordersaga-operator" unless cfg names it.
func New(cfg amqpconn.Config, log logr.Logger) *Broker {
	if cfg.ConnectionName == "" {
		cfg.ConnectionName = "ordersaga-operator"
	}
	return &Broker{Conn: amqpconn.New(cfg, log)}
}

// NeedLeaderElection is false: every replica connects, so that a standby is
// ready (and reports ready) before it becomes the leader.
func (b *Broker) NeedLeaderElection() bool { return false }

// Check is a readiness check (healthz.Checker): it fails while the broker
// connection is down.
func (b *Broker) Check(_ *http.Request) error {
	if !b.Connected() {
		return amqpconn.ErrNotConnected
	}
	return nil
}
