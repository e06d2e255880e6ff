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

import "github.com/prometheus/client_golang/prometheus"

// Standard returns the behaviours every Mediator in the operator uses,
// outermost first: Logging, Metrics. Logging is outermost so that the
// duration it logs covers the whole dispatch.
func Standard(reg prometheus.Registerer) ([]Behaviour, error) {
	metrics, err := Metrics(reg)
	if err != nil {
		return nil, err
	}
	return []Behaviour{Logging(), metrics}, nil
}
