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

// suspendVerb holds a saga (spec.suspend): the operator sends no command
// or compensation and pauses its timers until it is resumed.
func suspendVerb() verb {
	return verb{
		name:  "suspend",
		short: "Hold a saga: nothing is sent until it is resumed",
		long: "suspend sets spec.suspend on a saga: the operator sends no command or\n" +
			"compensation, still records the replies to commands already sent, and\n" +
			"pauses the step timers and the deadline. It refuses a saga that is\n" +
			"already suspended or has finished.",
		example: "  kubectl saga suspend order-1004 -n shop",
		refuse: func(s *ordersv1alpha1.OrderSaga) error {
			if err := refuseFinished(s, "suspend"); err != nil {
				return err
			}
			if s.Spec.Suspend {
				return refusal("the saga is already suspended (spec.suspend is true); resume it with kubectl saga resume %s", s.Name)
			}
			return nil
		},
		apply: func(s *ordersv1alpha1.OrderSaga, _ time.Time) { s.Spec.Suspend = true },
		done:  "suspended",
	}
}

// resumeVerb clears spec.suspend: the saga goes on where it was held.
func resumeVerb() verb {
	return verb{
		name:  "resume",
		short: "Resume a suspended saga",
		long: "resume clears spec.suspend on a suspended saga: the operator sends what\n" +
			"it held back and the timers move later by the time suspended. It refuses\n" +
			"a saga that is not suspended or has finished.",
		example: "  kubectl saga resume order-1004 -n shop",
		refuse: func(s *ordersv1alpha1.OrderSaga) error {
			if err := refuseFinished(s, "resume"); err != nil {
				return err
			}
			if !s.Spec.Suspend {
				return refusal("the saga is not suspended (spec.suspend is false)")
			}
			return nil
		},
		apply: func(s *ordersv1alpha1.OrderSaga, _ time.Time) { s.Spec.Suspend = false },
		done:  "resumed",
	}
}

// refuseFinished refuses a saga that has finished: spec.suspend has no
// effect on it.
func refuseFinished(s *ordersv1alpha1.OrderSaga, name string) error {
	if s.Status.Phase.IsFinal() {
		return refusal("the saga is %s: it has finished, and %s applies only to a saga that has not", s.Status.Phase, name)
	}
	return nil
}

func newSuspendCommand(o *Options) *cobra.Command { return suspendVerb().command(o) }

func newResumeCommand(o *Options) *cobra.Command { return resumeVerb().command(o) }
