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
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// verb is a manual action on one saga. The saga is read, the verb refuses
// it or changes it, and the change is written with the resourceVersion it
// was read at: if the saga changed in between (say, the operator moved it
// on), the write is refused, so a verb never acts on a saga its check did
// not see. A new verb is a file with a constructor that returns one (see
// suspend.go) and a line in commands. Verbs the operator applies (retry,
// skip, compensate, cancel, resume-forward) are requestVerbs instead
// (request.go): they create a SagaRequest.
type verb struct {
	// name is the subcommand, for example "retry".
	name string
	// short, long and example are its help.
	short, long, example string
	// refuse says why the verb does not apply to the saga, or returns nil.
	refuse func(s *ordersv1alpha1.OrderSaga) error
	// apply changes the saga as the verb asks, at time now.
	apply func(s *ordersv1alpha1.OrderSaga, now time.Time)
	// done says what was asked, after the saga's name: "retry requested".
	done string
	// flags, if set, adds the verb's own flags (a note, say), bound to
	// variables its constructor's apply reads.
	flags func(fs *pflag.FlagSet)
}

// RefusedError is the error of a verb that does not apply to the saga as
// it is, so that a caller can tell a refusal from a failure to reach the
// cluster.
type RefusedError struct {
	// Why says why the verb does not apply, and what to do instead.
	Why string
}

func (e *RefusedError) Error() string { return e.Why }

// refusal returns the RefusedError of a verb that does not apply.
func refusal(format string, args ...any) error {
	return &RefusedError{Why: fmt.Sprintf(format, args...)}
}

// command returns the verb's subcommand.
func (v verb) command(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:               v.name + " NAME",
		Short:             v.short,
		Long:              v.long,
		Example:           v.example,
		ValidArgsFunction: o.completeSagaName,
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.runVerb(cmd.Context(), v, args[0])
		},
	}
	if v.flags != nil {
		v.flags(cmd.Flags())
	}
	return cmd
}

func (o *Options) runVerb(ctx context.Context, v verb, name string) error {
	c, saga, err := o.getSaga(ctx, name)
	if err != nil {
		return err
	}
	if err := v.refuse(saga); err != nil {
		return fmt.Errorf("cannot %s %s: %w", v.name, name, err)
	}
	before := saga.DeepCopy()
	v.apply(saga, o.Now())
	patch := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	if err := c.Patch(ctx, saga, patch); err != nil {
		if apierrors.IsConflict(err) {
			return fmt.Errorf("cannot %s %s: the saga changed while the request was made; look at it again (kubectl saga tree %s) and retry the command", v.name, name, name)
		}
		return fmt.Errorf("%s %s: %w", v.name, name, err)
	}
	_, err = fmt.Fprintf(o.Out, "ordersaga.orders.ordersaga.io/%s %s\n", name, v.done)
	return err
}
