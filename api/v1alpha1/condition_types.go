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

package v1alpha1

// Condition types of an OrderSaga. Ready is "normal-true" (True is good);
// Reconciling and Stalled are "abnormal-true" (present and True only while
// the abnormal state lasts, removed otherwise), as kstatus expects, so that
// kubectl wait, Flux and Argo CD read a saga's health without custom code.
const (
	// ConditionReady is True only when the saga completed: every step succeeded.
	ConditionReady = "Ready"

	// ConditionReconciling is True while the saga is pending, running or
	// compensating, that is while the operator still has work to do.
	ConditionReconciling = "Reconciling"

	// ConditionStalled is True when the saga ended without completing:
	// compensated (reason Compensated) or stuck on a compensation that could
	// not succeed (reason CompensationFailed). kstatus reports both as Failed.
	ConditionStalled = "Stalled"

	// ConditionSuspended is True while spec.suspend holds the saga (reason
	// Suspended): nothing is sent and its timers are paused. Absent
	// otherwise.
	ConditionSuspended = "Suspended"

	// ConditionCompensating is True while completed steps are being undone,
	// with the reason compensation started; False once compensation ended.
	// Absent if the saga never compensated.
	ConditionCompensating = "Compensating"

	// ConditionBlocked is True while the next command or compensation of the
	// saga cannot be sent: its participant is not registered, does not
	// declare the command, or is suspended, or the broker is unavailable
	// (ReasonParticipantNotRegistered, ReasonCommandNotDeclared,
	// ReasonParticipantSuspended, ReasonBrokerUnavailable). "Abnormal-true":
	// absent otherwise.
	ConditionBlocked = "Blocked"
)

const (
	// Finalizer keeps a deleted saga until its completed steps are compensated.
	Finalizer = "orders.ordersaga.io/compensate"

	// RetryAnnotation asks the operator to retry a saga that is Failed because
	// a compensation could not succeed: set it to any new value (for example
	// the current time) and the failed compensation gets a fresh set of
	// attempts. The value acted upon is recorded in status.lastHandledRetry.
	RetryAnnotation = "orders.ordersaga.io/retry"

	// FinishedLabel ("true") marks a saga that is over for good (Completed
	// or Compensated) and whose lifecycle events are all published: the
	// operator sets it, removes the finalizer in the same patch, and no
	// longer keeps the saga in its cache (its cache selects
	// FinishedSelector). The saga is deleted ttlSecondsAfterFinished after
	// it finished.
	FinishedLabel = "orders.ordersaga.io/finished"

	// FinishedSelector is the label selector of the sagas the operator
	// keeps in its cache: those not finished.
	FinishedSelector = "!" + FinishedLabel

	// ExpiresAnnotation holds the time (RFC 3339) at which a finished saga
	// is deleted, written with FinishedLabel; absent when it is kept.
	ExpiresAnnotation = "orders.ordersaga.io/expires-at"
)
