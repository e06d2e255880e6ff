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
	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// InFlight lists the messages the status says are sent and awaiting a reply.
// After a crash the operator cannot know whether they left before it died,
// so it sends them again with the same message id: participants drop the
// duplicate (at-least-once delivery, effect at most once).
//
// It is the one place a Dispatch is built: the machine records a message in
// the status, and what to send is always read back from there.
func InFlight(saga *ordersv1alpha1.OrderSaga) []Dispatch {
	var out []Dispatch
	for i, rec := range saga.Status.Steps {
		if rec.NextAttemptAt != nil || rec.DispatchedAt == nil || i >= len(saga.RunSteps()) {
			continue
		}
		d := Dispatch{Step: rec.Name, StepIndex: i, Round: saga.Status.RetryRound, MessageID: rec.MessageID}
		switch rec.State {
		case ordersv1alpha1.StepRunning:
			d.Kind, d.Attempt = protocol.KindCommand, rec.Attempts
		case ordersv1alpha1.StepCompensating:
			d.Kind, d.Attempt = protocol.KindCompensation, rec.CompensationAttempts
		default:
			continue
		}
		d.DispatchedAt = rec.DispatchedAt.Time
		d.Deadline = replyDue(rec, saga.RunSteps()[i])
		out = append(out, d)
	}
	return out
}
