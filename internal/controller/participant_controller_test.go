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

package controller

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
)

// fakeQueues records what the Participant reconciler declares.
type fakeQueues struct {
	state          broker.QueueState
	err            error
	bound, unbound []string
	sac            bool
}

func (q *fakeQueues) QueueName(service string) string { return "test.commands." + service }

func (q *fakeQueues) Ensure(_ context.Context, _ string, sac bool, bind, unbind []string) (broker.QueueState, error) {
	q.bound, q.unbound, q.sac = bind, unbind, sac
	return q.state, q.err
}

func TestParticipantReconciler(t *testing.T) {
	tests := []struct {
		name       string
		mutate     func(*ordersv1alpha1.Participant)
		state      broker.QueueState
		err        error
		wantReady  metav1.ConditionStatus
		wantReason string
		wantStall  bool
	}{
		{name: "consumers attached", state: broker.QueueState{Consumers: 2, Messages: 5},
			wantReady: metav1.ConditionTrue, wantReason: ordersv1alpha1.ReasonConsuming},
		{name: "no consumer", state: broker.QueueState{Messages: 7},
			wantReady: metav1.ConditionFalse, wantReason: ordersv1alpha1.ReasonNoConsumer},
		{name: "suspended", mutate: func(p *ordersv1alpha1.Participant) { p.Spec.Suspend = true }, state: broker.QueueState{Consumers: 1},
			wantReady: metav1.ConditionFalse, wantReason: ordersv1alpha1.ReasonSuspended},
		{name: "broker unavailable", err: amqpconn.ErrNotConnected,
			wantReady: metav1.ConditionFalse, wantReason: ordersv1alpha1.ReasonBrokerUnavailable},
		{name: "queue with other arguments", err: fmt.Errorf("declare: %w", broker.ErrQueueArguments),
			wantReady: metav1.ConditionFalse, wantReason: ordersv1alpha1.ReasonQueueArgumentsDiffer, wantStall: true},
		{name: "declaration failed", err: errors.New("access refused"),
			wantReady: metav1.ConditionFalse, wantReason: ordersv1alpha1.ReasonTopologyFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			p := fixtures.NewParticipants("svc")[1] // payment
			p.Status.Queue, p.Status.RoutingKeys = "test.commands.payment", []string{"payment.ChargePayment", "payment.VoidPayment"}
			if tt.mutate != nil {
				tt.mutate(p)
			}
			scheme := runtime.NewScheme()
			g.Expect(ordersv1alpha1.AddToScheme(scheme)).To(Succeed())
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(p).WithStatusSubresource(p).Build()
			queues := &fakeQueues{state: tt.state, err: tt.err}
			activity := NewParticipantActivity()
			replied := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
			g.Expect(activity.Observe(context.Background(), ReplySettled{Service: "payment", At: replied})).To(Succeed())
			g.Expect(activity.Observe(context.Background(), ReplySettled{Service: "payment", At: replied, DeadLettered: true})).To(Succeed())
			r := &ParticipantReconciler{Client: c, Queues: queues, Activity: activity, Recorder: events.NewFakeRecorder(10),
				CheckInterval: 2 * time.Second}

			res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: "payment"}})

			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.RequeueAfter).To(Equal(2*time.Second), "checked again to restore what someone deletes")
			g.Expect(queues.bound).To(Equal([]string{"payment.ChargePayment", "payment.RefundPayment"}))
			g.Expect(queues.unbound).To(Equal([]string{"payment.VoidPayment"}), "a command no longer declared is unbound")
			got := &ordersv1alpha1.Participant{}
			g.Expect(c.Get(context.Background(), types.NamespacedName{Name: "payment"}, got)).To(Succeed())
			ready := meta.FindStatusCondition(got.Status.Conditions, ordersv1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(tt.wantReady))
			g.Expect(ready.Reason).To(Equal(tt.wantReason))
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, ordersv1alpha1.ConditionStalled)).To(Equal(tt.wantStall))
			g.Expect(got.Status.Queue).To(Equal("test.commands.payment"))
			g.Expect(got.Status.LastReplyTime.Time).To(BeTemporally("==", replied))
			g.Expect(got.Status.DeadLettered).To(Equal(int64(1)))
			if tt.err == nil {
				g.Expect(got.Status.Consumers).To(Equal(int32(tt.state.Consumers)))
				g.Expect(got.Status.MessagesReady).To(Equal(int32(tt.state.Messages)))
				g.Expect(got.Status.RoutingKeys).To(Equal([]string{"payment.ChargePayment", "payment.RefundPayment"}))
			} else {
				g.Expect(got.Status.RoutingKeys).To(ContainElement("payment.VoidPayment"), "unbound only once it is done")
			}
		})
	}
}

// Bindings an operator of another topology recorded are not this queue's:
// until this operator has declared and bound its own queue, the status
// claims none, so nobody takes the queue for ready.
func TestParticipantReconcilerClaimsNoBindingsOfAnotherQueue(t *testing.T) {
	g := NewWithT(t)
	p := fixtures.NewParticipants("svc")[1] // payment
	p.Status.Queue, p.Status.RoutingKeys = "other.commands.payment", []string{"payment.ChargePayment", "payment.RefundPayment"}
	scheme := runtime.NewScheme()
	g.Expect(ordersv1alpha1.AddToScheme(scheme)).To(Succeed())
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(p).WithStatusSubresource(p).Build()
	queues := &fakeQueues{err: errors.New("not connected")}
	r := &ParticipantReconciler{Client: c, Queues: queues, Activity: NewParticipantActivity(), Recorder: events.NewFakeRecorder(10),
		CheckInterval: 2 * time.Second}

	_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: "payment"}})

	g.Expect(err).NotTo(HaveOccurred())
	got := &ordersv1alpha1.Participant{}
	g.Expect(c.Get(context.Background(), types.NamespacedName{Name: "payment"}, got)).To(Succeed())
	g.Expect(got.Status.Queue).To(Equal("test.commands.payment"))
	g.Expect(got.Status.RoutingKeys).To(BeEmpty())
	g.Expect(queues.unbound).To(BeEmpty(), "the other queue's bindings are not this queue's to remove")
}
