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

// SagaTemplateSpec is a reusable saga definition: what an OrderSaga that
// names the template runs, besides its order.
type SagaTemplateSpec struct {
	// steps are run one after another, in list order, as an OrderSaga's
	// spec.steps (same rules). Editing them changes only the sagas that
	// start afterwards.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:XValidation:rule="self.all(s, self.exists_one(t, t.name == s.name))",message="step names must be unique"
	// +kubebuilder:validation:XValidation:rule="self.filter(s, has(s.drill)).size() <= 1",message="at most one step may be drilled"
	// +kubebuilder:validation:XValidation:rule="self.all(i, s, !has(s.runAfter) || s.runAfter.all(n, self.exists(j, t, j < i && t.name == n)))",message="a step runs after steps listed before it: every runAfter name must be the name of an earlier step"
	Steps []SagaStep `json:"steps"`

	// deadline of the sagas that set none, as an OrderSaga's spec.deadline.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('720h')",message="deadline must be between 1s and 720h"
	Deadline Duration `json:"deadline,omitempty"`

	// ttlSecondsAfterFinished of the sagas that set none, as an OrderSaga's.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=31536000
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=stpl,categories=ordersaga
// +kubebuilder:printcolumn:name="Version",type=integer,JSONPath=`.metadata.generation`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="a SagaTemplate's name must be a DNS label (no dots, at most 63 characters): it is a word of lifecycle events' routing keys and of spec.templateRef"

// SagaTemplate is a reusable saga definition. An OrderSaga that names it
// (spec.templateRef) carries only its order, and runs the template's steps as
// they were when it started (status.template).
type SagaTemplate struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata; its generation is the
	// template's version.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the definition.
	// +required
	Spec SagaTemplateSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// SagaTemplateList is a list of SagaTemplate.
type SagaTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []SagaTemplate `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &SagaTemplate{}, &SagaTemplateList{})
		return nil
	})
}
