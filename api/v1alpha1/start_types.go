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

package v1alpha1

const (
	// StartedByLabel marks a saga the operator created itself, with the
	// value StartedByBus for a start message (docs/events.md), so that
	// "kubectl get osaga -l orders.ordersaga.io/started-by=bus" lists them.
	StartedByLabel = "orders.ordersaga.io/started-by"
	// StartedByBus is StartedByLabel's value on a saga started by a message.
	StartedByBus = "bus"
)
