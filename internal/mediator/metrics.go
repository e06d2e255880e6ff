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
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DispatchDurationMetric is the name of the histogram Metrics records into.
const DispatchDurationMetric = "ordersaga_mediator_dispatch_duration_seconds"

// Outcome label values of DispatchDurationMetric.
const (
	OutcomeSuccess = "success"
	OutcomeError   = "error"
)

// Metrics records the duration of every dispatch in the histogram
// DispatchDurationMetric, labelled "kind" ("step", "request" or
// "notification"), "name" and "outcome" ("success" or "error").
//
// The histogram is registered with reg; if an identical one is already
// registered (e.g. a second Mediator in the same process), that one is
// reused. Any other registration failure is returned.
func Metrics(reg prometheus.Registerer) (Behaviour, error) {
	if reg == nil {
		return nil, fmt.Errorf("registering %s: nil prometheus.Registerer", DispatchDurationMetric)
	}
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: DispatchDurationMetric,
		Help: "Time taken to dispatch a mediator step, request or notification handler call, behaviours included.",
		// 100µs to ~26s: in-memory steps land in the first buckets, steps
		// that call the API server or a broker in the middle ones.
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
	}, []string{"kind", "name", "outcome"})
	if err := reg.Register(hist); err != nil {
		are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err)
		if !ok {
			return nil, fmt.Errorf("registering %s: %w", DispatchDurationMetric, err)
		}
		existing, ok := are.ExistingCollector.(*prometheus.HistogramVec)
		if !ok {
			return nil, fmt.Errorf("registering %s: already registered as %T: %w", DispatchDurationMetric, are.ExistingCollector, err)
		}
		hist = existing
	}

	return func(ctx context.Context, info Info, next Next) error {
		start := time.Now()
		err := next(ctx)
		hist.WithLabelValues(info.Kind.String(), info.Name, outcome(err)).Observe(time.Since(start).Seconds())
		return err
	}, nil
}

func outcome(err error) string {
	if err == nil {
		return OutcomeSuccess
	}
	return OutcomeError
}
