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

package saga

import (
	"math"
	"time"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// Defaults of a retry policy, as the CRD sets them; used when a field is
// unset (a saga created before the CRD had defaults, or built in Go).
const (
	defaultMaxAttempts  = 3
	defaultInitialDelay = time.Second
	defaultFactor       = 2
	defaultMaxDelay     = time.Minute
	defaultTimeout      = 30 * time.Second
)

func maxAttempts(p ordersv1alpha1.RetryPolicy) int32 {
	if p.MaxAttempts > 0 {
		return p.MaxAttempts
	}
	return defaultMaxAttempts
}

// backoff is the delay after the given number of failed attempts:
// min(initialDelay * factor^(attempts-1), maxDelay), of which the upper half
// is spread by jitter ("equal jitter"), so that sagas failing together do not
// retry together and the delay never drops below half its nominal value.
func backoff(p ordersv1alpha1.RetryPolicy, attempts int32, jitter float64) time.Duration {
	initial, ceiling, factor := p.InitialDelay.Get(), p.MaxDelay.Get(), float64(p.Factor)
	if initial <= 0 {
		initial = defaultInitialDelay
	}
	if ceiling <= 0 {
		ceiling = defaultMaxDelay
	}
	if factor < 1 {
		factor = defaultFactor
	}
	nominal := float64(initial) * math.Pow(factor, float64(max(attempts-1, 0)))
	nominal = math.Min(nominal, float64(ceiling))
	return time.Duration(nominal/2 + jitter*nominal/2)
}
