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
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"

	"github.com/ordersaga/ordersaga-operator/internal/faults"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

// applyInbox applies each inbox item to the working copy. An item that
// matches nothing in a status read from the cache may answer a command whose
// dispatch the cache has not seen yet: the pass then starts again from a
// live read (errStaleView), and only what still matches nothing is
// dead-lettered.
func (r *OrderSagaReconciler) applyInbox(_ context.Context, req ApplyInbox) (InboxApplied, error) {
	out := InboxApplied{Verdicts: make(map[*InboxItem]saga.Verdict, len(req.Items))}
	m := r.Machine
	m.Participants = req.Participants
	for _, it := range req.Items {
		applied := m.Apply(req.Saga, req.Now, it.Event)
		out.Verdicts[it] = applied.Verdict
		out.Transitions = append(out.Transitions, applied.Transitions...)
		if applied.Verdict == saga.Unmatched && !req.Live {
			return InboxApplied{}, errStaleView
		}
	}
	return out, nil
}

// settleInbox acknowledges or dead-letters the replies of the pass and takes
// its items out of the inbox. It runs only after the status that records
// them is persisted.
func (r *OrderSagaReconciler) settleInbox(ctx context.Context, req SettleInbox) (InboxSettled, error) {
	var out InboxSettled
	for _, it := range req.Items {
		if it.Delivery == nil {
			continue // a failed dispatch or a retry request: nothing to acknowledge
		}
		faults.Crash(faults.BeforeAck)
		service := replyService(req.Saga, it)
		switch req.Verdicts[it] {
		case saga.Unmatched:
			r.deadLetter(ctx, it, DeadLetterUnmatchedReply, "no message of the saga matches the reply's correlation id and headers")
			r.replySettled(ctx, service, true)
			out.DeadLettered++
			continue
		case saga.Unauthenticated:
			r.deadLetter(ctx, it, DeadLetterUnauthenticatedReply,
				fmt.Sprintf("the reply's user_id %q is not the broker user Participant %s registers", it.Delivery.UserId, service))
			r.replySettled(ctx, service, true)
			out.DeadLettered++
			continue
		}
		r.replySettled(ctx, service, false)
		// An ack fails only if the channel closed; the broker then
		// redelivers the reply, which the next pass finds a duplicate.
		if err := it.Delivery.Ack(false); err != nil {
			ctrl.LoggerFrom(ctx).V(1).Info("Reply not acknowledged; it will be redelivered",
				"messageID", it.Delivery.MessageId, "error", err.Error())
			continue
		}
		out.Acknowledged++
	}
	r.Inbox.Remove(client.ObjectKeyFromObject(req.Saga), req.Items)
	return out, nil
}

// replyService is the service of the step a reply's headers name, if the
// saga has that step.
func replyService(obj *ordersv1alpha1.OrderSaga, it *InboxItem) string {
	reply, ok := it.Event.(saga.ReplyReceived)
	if !ok {
		return ""
	}
	for _, step := range obj.RunSteps() {
		if step.Name == reply.Headers.Step {
			return step.Service
		}
	}
	return ""
}

// replySettled tells who follows a participant's replies (its status).
func (r *OrderSagaReconciler) replySettled(ctx context.Context, service string, deadLettered bool) {
	if service == "" {
		return
	}
	if err := r.notify.replySettled(ctx, ReplySettled{Service: service, At: r.Clock.Now(), DeadLettered: deadLettered}); err != nil {
		ctrl.LoggerFrom(ctx).Info("Reply subscriber failed", "service", service, "error", err.Error())
	}
}

// deadLetter moves a reply nothing can apply to the dead-letter queue, with
// its reason, and counts it.
func (r *OrderSagaReconciler) deadLetter(ctx context.Context, it *InboxItem, reason, detail string) {
	r.ReplyObserver.ReplyDeadLettered(reason)
	log := ctrl.LoggerFrom(ctx).WithValues("reason", reason, "messageID", it.Delivery.MessageId,
		"correlationID", it.Delivery.CorrelationId)
	log.Info("Reply dead-lettered")
	if err := r.DeadLetters.DeadLetter(ctx, *it.Delivery, reason, detail); err != nil {
		log.Info("Reply rejected to the queue's dead-letter policy", "error", err.Error())
	}
}
