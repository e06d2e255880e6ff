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
	"testing"
	"time"

	. "github.com/onsi/gomega"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

func completedSaga() *ordersv1alpha1.OrderSaga {
	s := compensatedSaga()
	s.Status.Phase = ordersv1alpha1.PhaseCompleted
	return s
}

func suspendedSaga() *ordersv1alpha1.OrderSaga {
	s := runningSaga()
	s.Spec.Suspend = true
	return s
}

func TestRequestVerbRefusals(t *testing.T) {
	tests := []struct {
		name    string
		verb    requestVerb
		saga    *ordersv1alpha1.OrderSaga
		step    string
		refused string
	}{
		{name: "retry failed", verb: retryVerb(), saga: failedSaga()},
		{name: "retry compensated", verb: retryVerb(), saga: compensatedSaga(), refused: "the saga is Compensated, not Failed"},
		{name: "retry not reconciled yet", verb: retryVerb(), saga: pendingSaga(), refused: "the saga is <none>, not Failed"},
		{name: "skip running", verb: skipVerb(), saga: runningSaga(), step: "charge-payment"},
		{name: "skip failed", verb: skipVerb(), saga: failedSaga(), step: "reserve-inventory"},
		{name: "skip unknown step", verb: skipVerb(), saga: runningSaga(), step: "pack", refused: `the saga has no step "pack"`},
		{
			name: "skip completed", verb: skipVerb(), saga: completedSaga(), step: "charge-payment",
			refused: "the saga is Completed; skip applies only to a Running, Compensating or Failed saga",
		},
		{name: "compensate completed", verb: compensateVerb(), saga: completedSaga()},
		{
			name: "compensate running", verb: compensateVerb(), saga: runningSaga(),
			refused: "the saga is Running; compensate applies only to a Completed saga (cancel stops a running one)",
		},
		{name: "cancel running", verb: cancelVerb(), saga: runningSaga()},
		{name: "cancel not reconciled yet", verb: cancelVerb(), saga: pendingSaga()},
		{
			name: "cancel compensated", verb: cancelVerb(), saga: compensatedSaga(),
			refused: "the saga is Compensated; cancel applies only to a Pending or Running saga",
		},
		{name: "resume-forward compensated", verb: resumeForwardVerb(), saga: compensatedSaga()},
		{
			name: "resume-forward completed", verb: resumeForwardVerb(), saga: completedSaga(),
			refused: "the saga is Completed; resume-forward applies only to a saga compensating or compensated after a step failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			err := tt.verb.refuse(tt.saga, tt.step)
			if tt.refused == "" {
				g.Expect(err).NotTo(HaveOccurred())
				return
			}
			g.Expect(isRefusal(err)).To(BeTrue(), "a refusal: %v", err)
			g.Expect(err).To(MatchError(ContainSubstring(tt.refused)))
		})
	}
}

func TestSuspendResumeRefusals(t *testing.T) {
	tests := []struct {
		name    string
		verb    verb
		saga    *ordersv1alpha1.OrderSaga
		refused string
		want    bool
	}{
		{name: "suspend running", verb: suspendVerb(), saga: runningSaga(), want: true},
		{name: "suspend not reconciled yet", verb: suspendVerb(), saga: pendingSaga(), want: true},
		{
			name: "suspend suspended", verb: suspendVerb(), saga: suspendedSaga(),
			refused: "the saga is already suspended (spec.suspend is true); resume it with kubectl saga resume order-1004",
		},
		{
			name: "suspend compensated", verb: suspendVerb(), saga: compensatedSaga(),
			refused: "the saga is Compensated: it has finished, and suspend applies only to a saga that has not",
		},
		{name: "resume suspended", verb: resumeVerb(), saga: suspendedSaga(), want: false},
		{name: "resume running", verb: resumeVerb(), saga: runningSaga(), refused: "the saga is not suspended (spec.suspend is false)"},
		{
			name: "resume failed", verb: resumeVerb(), saga: failedSaga(),
			refused: "the saga is Failed: it has finished, and resume applies only to a saga that has not",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			err := tt.verb.refuse(tt.saga)
			if tt.refused != "" {
				g.Expect(isRefusal(err)).To(BeTrue(), "a refusal: %v", err)
				g.Expect(err).To(MatchError(ContainSubstring(tt.refused)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			tt.verb.apply(tt.saga, time.Time{})
			g.Expect(tt.saga.Spec.Suspend).To(Equal(tt.want))
		})
	}
}

func TestNewSagaRequest(t *testing.T) {
	g := NewWithT(t)
	req := NewSagaRequest(runningSaga(), ordersv1alpha1.VerbSkip, "charge-payment", "charged by hand")
	g.Expect(req.Namespace).To(Equal(fixtureNamespace))
	g.Expect(req.Name).To(BeEmpty())
	g.Expect(req.GenerateName).To(Equal("order-1004-skip-"))
	g.Expect(req.Spec).To(Equal(ordersv1alpha1.SagaRequestSpec{
		Saga: "order-1004", Verb: ordersv1alpha1.VerbSkip, Step: "charge-payment", Reason: "charged by hand",
	}))
}

func TestListFilterDrill(t *testing.T) {
	g := NewWithT(t)
	drill := runningSaga()
	drill.Status.Drill = true
	g.Expect(ListFilter{Drill: true}.Match(drill, fixtureNow)).To(BeTrue())
	g.Expect(ListFilter{Drill: true}.Match(runningSaga(), fixtureNow)).To(BeFalse())
	g.Expect(ListFilter{}.Match(drill, fixtureNow)).To(BeTrue())
}
