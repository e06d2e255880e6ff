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

// MaxParticipantCommands is the largest number of commands, and of
// compensations, a participant may declare.
const MaxParticipantCommands = 64

// ParticipantSpec registers a participant service: what it accepts, who it
// is on the broker, and who may address it.
type ParticipantSpec struct {
	// commands are the commands the service carries out
	// (spec.steps[].command.name of the sagas that address it). A step whose
	// command is not listed waits, and nothing is sent to the service.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Commands []ParticipantCommand `json:"commands"`

	// compensations are the compensations the service carries out
	// (spec.steps[].compensation.name).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Compensations []ParticipantCommand `json:"compensations,omitempty"`

	// brokerUser is the RabbitMQ user the service publishes its replies as.
	// A reply to a step of the service is accepted only if RabbitMQ validated
	// that user in its user_id property; any other reply is dead-lettered.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	BrokerUser string `json:"brokerUser"`

	// namespaceSelector selects the namespaces whose sagas may address the
	// service: a saga in any other namespace fails before it sends anything.
	// {} admits every namespace.
	// +required
	NamespaceSelector metav1.LabelSelector `json:"namespaceSelector"`

	// singleActiveConsumer declares the service's queue with RabbitMQ's
	// single active consumer: of the instances of the service that share
	// the queue, one consumes and the others stand by. Set it when several
	// instances run without a shared idempotency store. RabbitMQ cannot
	// change it on an existing queue: the Participant's Ready condition then
	// says QueueArgumentsDiffer.
	// +optional
	SingleActiveConsumer bool `json:"singleActiveConsumer,omitempty"`

	// suspend stops every command and compensation to the service, for
	// example during its incident: its sagas wait, their step timers paused,
	// and go on when it is resumed. Replies still arrive and are recorded.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ParticipantCommand is a command or compensation a participant carries out,
// with the defaults of the steps that send it.
type ParticipantCommand struct {
	// name is the command's name, for example "ChargePayment".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_-]*$`
	Name string `json:"name"`

	// timeout is the timeout of a step that sends this command and sets
	// none. Between 1s and 24h.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="timeout must be between 1s and 24h"
	Timeout Duration `json:"timeout,omitempty"`

	// retry is the retry policy of a step that sends this command and sets
	// none.
	// +optional
	Retry *RetryPolicy `json:"retry,omitempty"`
}

// ParticipantStatus is what the operator observes of a participant's queue
// and replies.
type ParticipantStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// queue is the service's queue, which the operator declares and binds.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	Queue string `json:"queue,omitempty"`

	// consumers is how many consumers the queue had at the last check.
	// +optional
	Consumers int32 `json:"consumers"`

	// messagesReady is how many commands waited in the queue at the last
	// check.
	// +optional
	MessagesReady int32 `json:"messagesReady"`

	// deadLettered counts the replies from the service the operator
	// dead-lettered since it started.
	// +optional
	DeadLettered int64 `json:"deadLettered"`

	// lastReplyTime is when the operator last received a reply from the
	// service (to within the status's refresh interval).
	// +optional
	LastReplyTime *metav1.Time `json:"lastReplyTime,omitempty"`

	// routingKeys are the routing keys the queue is bound with, so that a
	// command or compensation removed from the spec is unbound.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MaxLength=128
	RoutingKeys []string `json:"routingKeys,omitempty"`

	// conditions: Ready (the queue is declared and bound, and has a
	// consumer), Reconciling and Stalled, the kstatus way.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=ordersaga
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="a Participant's name is its service's name, a lowercase DNS label as spec.steps[].service"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Consumers",type=integer,JSONPath=`.status.consumers`
// +kubebuilder:printcolumn:name="Queued",type=integer,JSONPath=`.status.messagesReady`
// +kubebuilder:printcolumn:name="Dead",type=integer,JSONPath=`.status.deadLettered`
// +kubebuilder:printcolumn:name="Last Reply",type=date,JSONPath=`.status.lastReplyTime`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Participant registers a participant service: its name is the service that
// saga steps name (spec.steps[].service). Nothing is sent to a service that
// is not registered.
type Participant struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata. Its name is the service's
	// name: a lowercase DNS label.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec registers the service.
	// +required
	Spec ParticipantSpec `json:"spec"`

	// status is what the operator observes of the service.
	// +optional
	Status ParticipantStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// ParticipantList is a list of Participant.
type ParticipantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Participant `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &Participant{}, &ParticipantList{})
		return nil
	})
}
