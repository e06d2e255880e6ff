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

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// SagaVerb is a manual action on a saga that a SagaRequest asks for.
// +kubebuilder:validation:Enum=Retry;Skip;Compensate;Cancel;ResumeForward
type SagaVerb string

const (
	// VerbRetry gives the failed compensation of a Failed saga a new round
	// of attempts, like RetryAnnotation.
	VerbRetry SagaVerb = "Retry"
	// VerbSkip resolves a stuck step by hand: a step whose command awaits
	// its reply or its next attempt (the saga goes on with the next step),
	// or a compensation that awaits its reply or failed for good (the saga
	// goes on compensating).
	VerbSkip SagaVerb = "Skip"
	// VerbCompensate undoes a Completed saga (a return, a fraud case): every
	// step that has a compensation is compensated, in reverse order.
	VerbCompensate SagaVerb = "Compensate"
	// VerbCancel stops a pending or running saga and compensates it, like
	// spec.cancel.
	VerbCancel SagaVerb = "Cancel"
	// VerbResumeForward takes a saga whose step failed back to that step,
	// once its participant is fixed, provided nothing was undone yet and no
	// step's effect is unknown: the step gets a new round of attempts and
	// the saga runs again.
	VerbResumeForward SagaVerb = "ResumeForward"
)

// MaxRequestReasonLength is the longest reason, in bytes, a SagaRequest may
// give.
const MaxRequestReasonLength = 1024

// SagaRequestSpec is what a person asks of a saga. It is immutable.
//
// +kubebuilder:validation:XValidation:rule="self.verb != 'Skip' || has(self.step)",message="a Skip request names the step to skip in spec.step"
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec of a SagaRequest is immutable: create a new request"
type SagaRequestSpec struct {
	// saga is the name of the OrderSaga, in the request's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Saga string `json:"saga"`

	// verb is the action asked for: Retry, Skip, Compensate, Cancel or
	// ResumeForward.
	// +required
	Verb SagaVerb `json:"verb"`

	// step is the step a Skip request resolves. Ignored by the other verbs.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Step string `json:"step,omitempty"`

	// reason says why, in the requester's words; it is recorded in the
	// saga's history and Events. At most 1024 bytes.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason"`

	// requester is who asked. The admission policy of config/admission
	// stamps it from the creating user; a request whose requester is not
	// its creator is refused, so it cannot be forged.
	// +optional
	Requester *Requester `json:"requester,omitempty"`
}

// Requester is the user who created a SagaRequest, as the apiserver
// authenticated them.
type Requester struct {
	// username of the user who created the request.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Username string `json:"username"`

	// groups of the user who created the request.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	Groups []string `json:"groups,omitempty"`
}

// SagaRequestPhase is where a request is.
// +kubebuilder:validation:Enum=Pending;Done;Refused
type SagaRequestPhase string

const (
	// RequestPending: the request has not been handled yet (also when the
	// status is empty).
	RequestPending SagaRequestPhase = "Pending"
	// RequestDone: the saga took the request; its history says what
	// followed.
	RequestDone SagaRequestPhase = "Done"
	// RequestRefused: the verb does not apply to the saga as it was; the
	// message says why. Nothing changed.
	RequestRefused SagaRequestPhase = "Refused"
)

// SagaRequestStatus is what became of a request. The operator writes it
// after the saga's status records the outcome.
type SagaRequestStatus struct {
	// phase is Pending until the saga handled the request, then Done or
	// Refused.
	// +optional
	Phase SagaRequestPhase `json:"phase,omitempty"`

	// message says what was done or why the request was refused.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`

	// handledAt is when the operator recorded the outcome.
	// +optional
	HandledAt *metav1.Time `json:"handledAt,omitempty"`

	// sagaUID is the uid of the saga that handled the request.
	// +optional
	// +kubebuilder:validation:MaxLength=36
	SagaUID string `json:"sagaUID,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sreq,categories=ordersaga
// +kubebuilder:printcolumn:name="Saga",type=string,JSONPath=`.spec.saga`
// +kubebuilder:printcolumn:name="Verb",type=string,JSONPath=`.spec.verb`
// +kubebuilder:printcolumn:name="Requester",type=string,JSONPath=`.spec.requester.username`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// SagaRequest asks the operator to apply one manual verb to one OrderSaga:
// one object per use of a verb, so that who asked, when and why is
// recorded, and so that the right to use verbs (create sagarequests) is
// granted apart from the right to edit sagas.
type SagaRequest struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the verb asked for.
	// +required
	Spec SagaRequestSpec `json:"spec"`

	// status is what became of the request.
	// +optional
	Status SagaRequestStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// SagaRequestList is a list of SagaRequest.
type SagaRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []SagaRequest `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &SagaRequest{}, &SagaRequestList{})
		return nil
	})
}

// MaxHandledRequests is how many handled SagaRequests a saga's status
// remembers (status.handledRequests).
const MaxHandledRequests = 16

// HandledRequest is a SagaRequest a saga handled: the saga never applies a
// request whose uid it lists again.
type HandledRequest struct {
	// uid of the SagaRequest.
	// +required
	// +kubebuilder:validation:MaxLength=36
	UID string `json:"uid"`

	// name of the SagaRequest.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// verb of the request.
	// +required
	Verb SagaVerb `json:"verb"`

	// phase is Done or Refused.
	// +required
	Phase SagaRequestPhase `json:"phase"`

	// message says what was done or why the request was refused.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Message string `json:"message,omitempty"`

	// time the saga handled the request.
	// +required
	Time metav1.MicroTime `json:"time"`
}
