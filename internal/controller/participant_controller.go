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
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
)

// ParticipantQueues is what the Participant reconciler needs of the broker:
// the operator owns every participant's queue and its bindings.
type ParticipantQueues interface {
	// QueueName is the queue of the service.
	QueueName(service string) string
	// Ensure declares the queue (and the command exchange), with single
	// active consumer if asked, binds it with bind and unbinds it from
	// unbind, and returns its state.
	Ensure(ctx context.Context, queue string, singleActiveConsumer bool, bind, unbind []string) (broker.QueueState, error)
}

// ParticipantReconciler keeps each registered participant's queue declared
// and bound, restores it within CheckInterval when someone deletes it (or
// the command exchange), and reports the queue's and the replies' state in
// the Participant's status.
type ParticipantReconciler struct {
	client.Client
	Queues   ParticipantQueues
	Activity *ParticipantActivity
	Recorder events.EventRecorder
	// CheckInterval is how often each participant's topology is checked
	// and its status refreshed.
	CheckInterval time.Duration
}

// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=participants,verbs=get;list;watch
// +kubebuilder:rbac:groups=orders.ordersaga.io,resources=participants/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Reconcile declares and binds the participant's queue and writes its
// status, once, if it changed; it looks again after CheckInterval.
func (r *ParticipantReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &ordersv1alpha1.Participant{}
	if err := r.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	base := p.DeepCopy()
	queue := r.Queues.QueueName(p.Name)
	keys := routingKeys(p)
	if p.Status.Queue != queue {
		// Those bindings were of another queue (another topology): none of
		// them is this queue's until Ensure says so.
		p.Status.RoutingKeys = nil
	}
	unbind := slices.DeleteFunc(slices.Clone(p.Status.RoutingKeys), func(k string) bool { return slices.Contains(keys, k) })
	state, err := r.Queues.Ensure(ctx, queue, p.Spec.SingleActiveConsumer, keys, unbind)
	if err == nil {
		p.Status.RoutingKeys = keys
	}
	setParticipantStatus(p, queue, state, err)
	if last, dead := r.Activity.Of(p.Name); !last.IsZero() {
		p.Status.LastReplyTime = &metav1.Time{Time: last.Truncate(time.Second)}
		p.Status.DeadLettered = dead
	}
	if !equality.Semantic.DeepEqual(base.Status, p.Status) {
		if err := r.Status().Patch(ctx, p, client.MergeFrom(base)); err != nil {
			return ctrl.Result{}, fmt.Errorf("patch participant status: %w", client.IgnoreNotFound(err))
		}
		r.recordReadiness(base, p)
	}
	return ctrl.Result{RequeueAfter: r.CheckInterval}, nil
}

// routingKeys are the keys the participant's queue is bound with.
func routingKeys(p *ordersv1alpha1.Participant) []string {
	keys := make([]string, 0, len(p.Spec.Commands)+len(p.Spec.Compensations))
	for _, c := range slices.Concat(p.Spec.Commands, p.Spec.Compensations) {
		key := p.Name + "." + c.Name
		if !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys
}

// setParticipantStatus sets the queue's state and the kstatus conditions:
// Ready is True only when the queue is declared and bound and has a
// consumer, and the participant is not suspended.
func setParticipantStatus(p *ordersv1alpha1.Participant, queue string, state broker.QueueState, err error) {
	st := &p.Status
	st.ObservedGeneration = p.Generation
	st.Queue = queue
	if err == nil {
		st.Consumers, st.MessagesReady = int32(min(state.Consumers, 1<<30)), int32(min(state.Messages, 1<<30)) //nolint:gosec // bounded
	}
	ready, reason, message := metav1.ConditionFalse, "", ""
	stalled := false
	switch {
	case errors.Is(err, amqpconn.ErrNotConnected):
		reason, message = ordersv1alpha1.ReasonBrokerUnavailable, "The broker is unavailable: the queue cannot be checked"
	case errors.Is(err, broker.ErrQueueArguments):
		reason, stalled = ordersv1alpha1.ReasonQueueArgumentsDiffer, true
		message = fmt.Sprintf("%v. Drain and delete the queue: the operator then declares it as a quorum queue with dead-lettering", err)
	case err != nil:
		reason, message = ordersv1alpha1.ReasonTopologyFailed, err.Error()
	case p.Spec.Suspend:
		reason, message = ordersv1alpha1.ReasonSuspended, "Suspended: nothing is sent to the service; its sagas wait with their timers paused"
	case st.Consumers == 0:
		reason, message = ordersv1alpha1.ReasonNoConsumer, fmt.Sprintf("No consumer on queue %s: commands wait there (%d now)", queue, st.MessagesReady)
	default:
		ready, reason = metav1.ConditionTrue, ordersv1alpha1.ReasonConsuming
		message = fmt.Sprintf("%d consumers on queue %s; %d commands waiting", st.Consumers, queue, st.MessagesReady)
	}
	set := func(t string, s metav1.ConditionStatus) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason,
			Message: truncateNote(message, ordersv1alpha1.MaxMessageLength), ObservedGeneration: p.Generation})
	}
	set(ordersv1alpha1.ConditionReady, ready)
	meta.RemoveStatusCondition(&st.Conditions, ordersv1alpha1.ConditionReconciling)
	meta.RemoveStatusCondition(&st.Conditions, ordersv1alpha1.ConditionStalled)
	switch {
	case stalled:
		set(ordersv1alpha1.ConditionStalled, metav1.ConditionTrue)
	case ready == metav1.ConditionFalse && reason != ordersv1alpha1.ReasonSuspended && reason != ordersv1alpha1.ReasonNoConsumer:
		set(ordersv1alpha1.ConditionReconciling, metav1.ConditionTrue)
	}
}

// recordReadiness records an Event when the participant's readiness or its
// reason changes.
func (r *ParticipantReconciler) recordReadiness(before, after *ordersv1alpha1.Participant) {
	was := meta.FindStatusCondition(before.Status.Conditions, ordersv1alpha1.ConditionReady)
	now := meta.FindStatusCondition(after.Status.Conditions, ordersv1alpha1.ConditionReady)
	if now == nil || (was != nil && was.Status == now.Status && was.Reason == now.Reason) {
		return
	}
	eventType := corev1.EventTypeWarning
	if now.Status == metav1.ConditionTrue || now.Reason == ordersv1alpha1.ReasonSuspended {
		eventType = corev1.EventTypeNormal
	}
	r.Recorder.Eventf(after, nil, eventType, now.Reason, "Check", "%s", now.Message)
}

// SetupWithManager registers the controller: it watches Participants (spec
// changes, not its own status writes) and looks at each again every
// CheckInterval.
func (r *ParticipantReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Queues == nil || r.Activity == nil || r.Recorder == nil || r.CheckInterval <= 0 {
		return errors.New("participant reconciler needs a Client, Queues, Activity, a Recorder and a check interval")
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&ordersv1alpha1.Participant{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("participant").
		Complete(r)
}

// ParticipantActivity follows the replies of each participant service, for
// its status: when the last one was settled, and how many were
// dead-lettered since the operator started. It subscribes to ReplySettled.
type ParticipantActivity struct {
	mu   sync.Mutex
	last map[string]time.Time
	dead map[string]int64
}

// NewParticipantActivity returns an empty ParticipantActivity.
func NewParticipantActivity() *ParticipantActivity {
	return &ParticipantActivity{last: map[string]time.Time{}, dead: map[string]int64{}}
}

// Observe records a settled reply; it is a subscriber of ReplySettled.
func (a *ParticipantActivity) Observe(_ context.Context, n ReplySettled) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n.At.After(a.last[n.Service]) {
		a.last[n.Service] = n.At
	}
	if n.DeadLettered {
		a.dead[n.Service]++
	}
	return nil
}

// Of returns the service's last settled reply and its dead-lettered count.
func (a *ParticipantActivity) Of(service string) (time.Time, int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last[service], a.dead[service]
}
