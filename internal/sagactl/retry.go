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

package sagactl

import (
	"time"

	"github.com/spf13/cobra"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// retryVerb gives the failed compensation of a Failed saga a fresh set of
// attempts: it sets the retry annotation to a new value, the time of the
// request, which the operator acts on once (status.lastHandledRetry).
func retryVerb() verb {
	return verb{
		name:  "retry",
		short: "Retry the failed compensation of a Failed saga",
		long: "retry asks the operator to retry a saga that is Failed because a\n" +
			"compensation could not succeed: it sets the " + ordersv1alpha1.RetryAnnotation + "\n" +
			"annotation to the time of the request, and the failed compensation gets a\n" +
			"fresh set of attempts (a new retry round). Fix the participant first.\n" +
			"It refuses a saga that is not Failed, or whose last retry request the\n" +
			"operator has not handled yet.",
		example: "  kubectl saga retry order-1002 -n shop",
		refuse:  refuseRetry,
		apply:   applyRetry,
		done:    "retry requested",
	}
}

func newRetryCommand(o *Options) *cobra.Command {
	return retryVerb().command(o)
}

func refuseRetry(s *ordersv1alpha1.OrderSaga) error {
	if s.Status.Phase != ordersv1alpha1.PhaseFailed {
		return refusal("the saga is %s, not Failed; retry applies only to a saga whose compensation could not succeed",
			orNone(string(s.Status.Phase)))
	}
	if v, ok := pendingRetry(s); ok {
		return refusal("retry %q is already requested and the operator has not handled it yet (status.lastHandledRetry is %q)",
			v, s.Status.LastHandledRetry)
	}
	return nil
}

// retryPrecise is RFC 3339 with every digit of the nanoseconds, so that it
// differs from the value to the second even when they are zero.
const retryPrecise = "2006-01-02T15:04:05.000000000Z07:00"

func applyRetry(s *ordersv1alpha1.OrderSaga, now time.Time) {
	value := now.UTC().Format(time.RFC3339)
	// The operator acts on a new value only: two requests within a second
	// must still differ.
	if value == s.Annotations[ordersv1alpha1.RetryAnnotation] || value == s.Status.LastHandledRetry {
		value = now.UTC().Format(retryPrecise)
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[ordersv1alpha1.RetryAnnotation] = value
}

// pendingRetry returns the retry requested on the saga that the operator
// has not acted upon yet, if there is one.
func pendingRetry(s *ordersv1alpha1.OrderSaga) (string, bool) {
	v, ok := s.Annotations[ordersv1alpha1.RetryAnnotation]
	return v, ok && v != s.Status.LastHandledRetry
}
