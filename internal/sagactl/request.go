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
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// requestVerb is a manual verb the operator applies: the command creates a
// SagaRequest, so that who asked, when and why is recorded by the
// apiserver and not by this tool, and (unless --wait=false) waits for the
// operator's answer. Its refuse is a courtesy that saves a request that
// cannot apply; the operator's answer is the authority.
type requestVerb struct {
	// verb is the SagaRequest's spec.verb.
	verb ordersv1alpha1.SagaVerb
	// short, long and example are its help.
	short, long, example string
	// name is the command's name; default the verb in lower case.
	name string
	// withStep says the verb takes a STEP argument after the saga's name.
	withStep bool
	// refuse says why the verb does not apply to the saga, or returns nil.
	refuse func(s *ordersv1alpha1.OrderSaga, step string) error
}

// requestOptions are the flags of a request verb.
type requestOptions struct {
	reason  string
	wait    bool
	timeout time.Duration
}

// pollInterval is how often a waiting verb reads its request again.
const pollInterval = 500 * time.Millisecond

// command returns the verb's subcommand.
func (v requestVerb) command(o *Options) *cobra.Command {
	name := v.name
	if name == "" {
		name = strings.ToLower(string(v.verb))
	}
	use, nargs := name+" NAME", 1
	if v.withStep {
		use, nargs = name+" NAME STEP", 2
	}
	ro := &requestOptions{}
	cmd := &cobra.Command{
		Use:               use,
		Short:             v.short,
		Long:              v.long,
		Example:           v.example,
		ValidArgsFunction: o.completeSagaName,
		Args:              cobra.ExactArgs(nargs),
		RunE: func(cmd *cobra.Command, args []string) error {
			step := ""
			if v.withStep {
				step = args[1]
			}
			return o.runRequest(cmd.Context(), v, ro, args[0], step)
		},
	}
	f := cmd.Flags()
	f.StringVar(&ro.reason, "reason", "", "Why, in your words (required): recorded in the saga's history and Events.")
	f.BoolVar(&ro.wait, "wait", true, "Wait until the operator has handled the request and print its answer.")
	f.DurationVar(&ro.timeout, "timeout", time.Minute, "How long --wait waits for the operator's answer.")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

// NewSagaRequest returns the SagaRequest asking for verb on the saga.
// Its name is generated from the saga's name and the verb.
func NewSagaRequest(saga *ordersv1alpha1.OrderSaga, verb ordersv1alpha1.SagaVerb, step, reason string) *ordersv1alpha1.SagaRequest {
	return &ordersv1alpha1.SagaRequest{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:    saga.Namespace,
			GenerateName: saga.Name + "-" + strings.ToLower(string(verb)) + "-",
		},
		Spec: ordersv1alpha1.SagaRequestSpec{Saga: saga.Name, Verb: verb, Step: step, Reason: reason},
	}
}

func (o *Options) runRequest(ctx context.Context, v requestVerb, ro *requestOptions, name, step string) error {
	name0 := strings.ToLower(string(v.verb))
	if strings.TrimSpace(ro.reason) == "" {
		return fmt.Errorf("cannot %s %s: --reason must say why", name0, name)
	}
	c, saga, err := o.getSaga(ctx, name)
	if err != nil {
		return err
	}
	if err := v.refuse(saga, step); err != nil {
		return fmt.Errorf("cannot %s %s: %w", name0, name, err)
	}
	req := NewSagaRequest(saga, v.verb, step, ro.reason)
	if err := c.Create(ctx, req); err != nil {
		return fmt.Errorf("create the %s request for %s: %w", v.verb, name, err)
	}
	if _, err := fmt.Fprintf(o.Out, "sagarequest.orders.ordersaga.io/%s created\n", req.Name); err != nil {
		return err
	}
	if !ro.wait {
		return nil
	}
	return o.awaitRequest(ctx, c, req, ro.timeout)
}

// awaitRequest waits until the operator has handled the request, prints
// its answer, and returns a RefusedError if it was refused.
func (o *Options) awaitRequest(ctx context.Context, c client.Client, req *ordersv1alpha1.SagaRequest, timeout time.Duration) error {
	key := client.ObjectKeyFromObject(req)
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The reads use ctx, not waitCtx: a read cut short by the timeout
	// would fail with the client's error instead of saying what happened.
	err := wait.PollUntilContextCancel(waitCtx, pollInterval, true, func(context.Context) (bool, error) {
		if err := c.Get(ctx, key, req); err != nil {
			return false, fmt.Errorf("read sagarequest %s: %w", req.Name, err)
		}
		return handled(req.Status.Phase), nil
	})
	if err != nil {
		if wait.Interrupted(err) && ctx.Err() == nil {
			return fmt.Errorf("the operator has not handled sagarequest %s within %s; it stays Pending and will be "+
				"handled when the operator gets to it (kubectl get sagarequest %s -n %s)", req.Name, timeout, req.Name, req.Namespace)
		}
		return err
	}
	if _, err := fmt.Fprintf(o.Out, "%s: %s\n", req.Status.Phase, req.Status.Message); err != nil {
		return err
	}
	if req.Status.Phase == ordersv1alpha1.RequestRefused {
		return &RefusedError{Why: fmt.Sprintf("the operator refused %s %s: %s", req.Spec.Verb, req.Spec.Saga, req.Status.Message)}
	}
	return nil
}

func handled(p ordersv1alpha1.SagaRequestPhase) bool {
	return p == ordersv1alpha1.RequestDone || p == ordersv1alpha1.RequestRefused
}

// requestVerbs are the verbs that go through a SagaRequest.
var requestVerbs = []requestVerb{retryVerb(), skipVerb(), compensateVerb(), cancelVerb(), resumeForwardVerb()}

// retryVerb gives the failed compensation of a Failed saga a new round.
func retryVerb() requestVerb {
	return requestVerb{
		verb:  ordersv1alpha1.VerbRetry,
		short: "Retry the failed compensation of a Failed saga",
		long: "retry asks the operator, through a SagaRequest, to give the failed\n" +
			"compensation of a Failed saga a fresh set of attempts (a new retry\n" +
			"round). Fix the participant first. It waits for the operator's answer.",
		example: `  kubectl saga retry order-1003 -n shop --reason "payments fixed (INC-1234)"`,
		refuse: func(s *ordersv1alpha1.OrderSaga, _ string) error {
			if s.Status.Phase != ordersv1alpha1.PhaseFailed {
				return refusal("the saga is %s, not Failed; retry applies only to a saga whose compensation could not succeed",
					orNone(string(s.Status.Phase)))
			}
			return nil
		},
	}
}

// skipVerb resolves a stuck step by hand.
func skipVerb() requestVerb {
	return requestVerb{
		verb:  ordersv1alpha1.VerbSkip,
		short: "Resolve a stuck step by hand and go on",
		long: "skip asks the operator, through a SagaRequest, to mark a stuck step\n" +
			"resolved: on a Running saga, a step whose command awaits its reply or\n" +
			"next attempt is Skipped (not compensated) and the saga goes on; on a\n" +
			"Compensating or Failed saga, the step's awaited or failed compensation\n" +
			"counts as done and the saga goes on compensating.",
		example:  `  kubectl saga skip order-1004 charge-payment -n shop --reason "charged by hand, ticket PAY-77"`,
		withStep: true,
		refuse:   refuseSkip,
	}
}

func refuseSkip(s *ordersv1alpha1.OrderSaga, step string) error {
	switch s.Status.Phase {
	case ordersv1alpha1.PhaseRunning, ordersv1alpha1.PhaseCompensating, ordersv1alpha1.PhaseFailed:
	default:
		return refusal("the saga is %s; skip applies only to a Running, Compensating or Failed saga",
			orNone(string(s.Status.Phase)))
	}
	for _, st := range s.RunSteps() {
		if st.Name == step {
			return nil
		}
	}
	return refusal("the saga has no step %q", step)
}

// compensateVerb undoes a Completed saga.
func compensateVerb() requestVerb {
	return requestVerb{
		verb:  ordersv1alpha1.VerbCompensate,
		short: "Undo a Completed saga (a return, a fraud case)",
		long: "compensate asks the operator, through a SagaRequest, to undo a Completed\n" +
			"saga: every step that has a compensation is compensated, last first.",
		example: `  kubectl saga compensate order-1005 -n shop --reason "fraud case FR-9"`,
		refuse: func(s *ordersv1alpha1.OrderSaga, _ string) error {
			if s.Status.Phase != ordersv1alpha1.PhaseCompleted {
				return refusal("the saga is %s; compensate applies only to a Completed saga (cancel stops a running one)",
					orNone(string(s.Status.Phase)))
			}
			return nil
		},
	}
}

// cancelVerb stops a pending or running saga and compensates it.
func cancelVerb() requestVerb {
	return requestVerb{
		verb:  ordersv1alpha1.VerbCancel,
		short: "Stop a Pending or Running saga and compensate it",
		long: "cancel asks the operator, through a SagaRequest, to stop a Pending or\n" +
			"Running saga: the steps done are compensated and it ends Compensated.",
		example: `  kubectl saga cancel order-1004 -n shop --reason "customer cancelled by phone"`,
		refuse: func(s *ordersv1alpha1.OrderSaga, _ string) error {
			switch s.Status.Phase {
			case "", ordersv1alpha1.PhasePending, ordersv1alpha1.PhaseRunning:
				return nil
			}
			return refusal("the saga is %s; cancel applies only to a Pending or Running saga", s.Status.Phase)
		},
	}
}

// resumeForwardVerb runs a failed step again once its participant is fixed.
func resumeForwardVerb() requestVerb {
	return requestVerb{
		verb:  ordersv1alpha1.VerbResumeForward,
		name:  "resume-forward",
		short: "Run a failed step again, once its participant is fixed, instead of compensating",
		long: "resume-forward asks the operator, through a SagaRequest, to take a saga\n" +
			"whose step failed back to that step, in a new round, and go on forward.\n" +
			"The operator refuses it once anything was undone (docs/api.md, Manual verbs).",
		example: `  kubectl saga resume-forward order-1004 -n shop --reason "payments fixed (INC-1234)"`,
		refuse: func(s *ordersv1alpha1.OrderSaga, _ string) error {
			switch s.Status.Phase {
			case ordersv1alpha1.PhaseCompensated, ordersv1alpha1.PhaseCompensating:
				return nil
			}
			return refusal("the saga is %s; resume-forward applies only to a saga compensating or compensated after a step failed",
				orNone(string(s.Status.Phase)))
		},
	}
}

func newRequestCommands(o *Options) []*cobra.Command {
	cmds := make([]*cobra.Command, 0, len(requestVerbs))
	for _, v := range requestVerbs {
		cmds = append(cmds, v.command(o))
	}
	return cmds
}
