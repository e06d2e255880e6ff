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

package manifests

import (
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// one returns the only object of kind, or fails.
func one(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	found := byKind(objs, kind)
	if len(found) != 1 {
		t.Fatalf("want one %s, got %d", kind, len(found))
	}
	return found[0]
}

// Names of the admission policies, as "make deploy" renders them.
const (
	finalizerPolicy = "ordersaga-compensate-finalizer"
	requesterPolicy = "ordersaga-saga-request-requester"
)

// named returns the one object of kind named name.
func named(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range byKind(objs, kind) {
		if o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	return nil
}

// matchesSagas reports whether rules match exactly the operation op on
// OrderSagas (not their status).
func matchesSagas(rules []admissionregistrationv1.NamedRuleWithOperations, op admissionregistrationv1.OperationType) bool {
	if len(rules) != 1 {
		return false
	}
	r := rules[0]
	return slices.Equal(r.APIGroups, []string{ordersv1alpha1.GroupVersion.Group}) &&
		slices.Equal(r.Resources, []string{"ordersagas"}) &&
		slices.Equal(r.Operations, []admissionregistrationv1.OperationType{op})
}

// "make deploy" installs the admission policies that keep the compensate
// finalizer out of editors' reach, bound, cluster-wide, about the finalizer
// the operator knows.
func TestAdmissionPoliciesAreDeployed(t *testing.T) {
	objs := render(t)
	for _, o := range byKind(objs, "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding") {
		if o.GetNamespace() != "" {
			t.Errorf("%s %s is cluster-scoped but rendered in namespace %s", o.GetKind(), o.GetName(), o.GetNamespace())
		}
	}

	mutating := convert[admissionregistrationv1.MutatingAdmissionPolicy](t, named(t, objs, "MutatingAdmissionPolicy", finalizerPolicy))
	if !matchesSagas(mutating.Spec.MatchConstraints.ResourceRules, admissionregistrationv1.Create) {
		t.Errorf("the mutating policy must match the creation of ordersagas: %+v", mutating.Spec.MatchConstraints.ResourceRules)
	}
	if len(mutating.Spec.Mutations) != 1 || mutating.Spec.Mutations[0].JSONPatch == nil ||
		!strings.Contains(mutating.Spec.Mutations[0].JSONPatch.Expression, `"`+ordersv1alpha1.Finalizer+`"`) {
		t.Errorf("the mutating policy must add the finalizer %s: %+v", ordersv1alpha1.Finalizer, mutating.Spec.Mutations)
	}
	mutatingBinding := convert[admissionregistrationv1.MutatingAdmissionPolicyBinding](t, named(t, objs, "MutatingAdmissionPolicyBinding", finalizerPolicy))
	if mutatingBinding.Spec.PolicyName != mutating.Name {
		t.Errorf("the mutating binding names policy %q, want %q", mutatingBinding.Spec.PolicyName, mutating.Name)
	}

	validating := convert[admissionregistrationv1.ValidatingAdmissionPolicy](t, named(t, objs, "ValidatingAdmissionPolicy", finalizerPolicy))
	if !matchesSagas(validating.Spec.MatchConstraints.ResourceRules, admissionregistrationv1.Update) {
		t.Errorf("the validating policy must match the updates of ordersagas: %+v", validating.Spec.MatchConstraints.ResourceRules)
	}
	if p := validating.Spec.FailurePolicy; p == nil || *p != admissionregistrationv1.Fail {
		t.Error("the validating policy must fail closed")
	}
	var conditions string
	for _, c := range validating.Spec.MatchConditions {
		conditions += c.Expression + "\n"
	}
	if !strings.Contains(conditions, "'"+ordersv1alpha1.Finalizer+"'") {
		t.Errorf("the validating policy must be about the finalizer %s", ordersv1alpha1.Finalizer)
	}
	// The phases it lets anyone remove the finalizer in are the final ones.
	for _, phase := range []ordersv1alpha1.SagaPhase{ordersv1alpha1.PhasePending, ordersv1alpha1.PhaseRunning,
		ordersv1alpha1.PhaseCompensating, ordersv1alpha1.PhaseCompleted, ordersv1alpha1.PhaseCompensated, ordersv1alpha1.PhaseFailed} {
		if named := strings.Contains(conditions, "'"+string(phase)+"'"); named != phase.IsFinal() {
			t.Errorf("the validating policy names phase %s: %t, but the phase is final: %t", phase, named, phase.IsFinal())
		}
	}
	validatingBinding := convert[admissionregistrationv1.ValidatingAdmissionPolicyBinding](t, named(t, objs, "ValidatingAdmissionPolicyBinding", finalizerPolicy))
	if validatingBinding.Spec.PolicyName != validating.Name ||
		!slices.Equal(validatingBinding.Spec.ValidationActions, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}) {
		t.Errorf("the validating binding must deny by policy %q: %+v", validating.Name, validatingBinding.Spec)
	}
}

// The right the validating policy asks for, "abandon" on ordersagas, is
// granted to the operator's service account and to no one else.
func TestOnlyTheOperatorMayAbandonSagas(t *testing.T) {
	objs := render(t)
	validating := convert[admissionregistrationv1.ValidatingAdmissionPolicy](t, named(t, objs, "ValidatingAdmissionPolicy", finalizerPolicy))
	if len(validating.Spec.Validations) != 1 || !strings.Contains(validating.Spec.Validations[0].Expression, ".check('abandon')") {
		t.Fatalf("the validating policy must ask the authorizer for the verb abandon: %+v", validating.Spec.Validations)
	}

	deployment := convert[appsv1.Deployment](t, one(t, objs, "Deployment"))
	operatorSA := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: deployment.Namespace,
		Name: deployment.Spec.Template.Spec.ServiceAccountName}
	abandonRoles := map[string]bool{}
	for _, u := range byKind(objs, "ClusterRole", "Role") {
		for _, rule := range convert[rbacv1.ClusterRole](t, u).Rules {
			if slices.Contains(rule.Verbs, "abandon") {
				abandonRoles[u.GetKind()+"/"+u.GetName()] = true
			}
		}
	}
	if len(abandonRoles) != 1 {
		t.Fatalf("want one role granting abandon, got %v", abandonRoles)
	}
	bound := 0
	for _, u := range byKind(objs, "ClusterRoleBinding", "RoleBinding") {
		b := convert[rbacv1.ClusterRoleBinding](t, u)
		if !abandonRoles[b.RoleRef.Kind+"/"+b.RoleRef.Name] {
			continue
		}
		if u.GetKind() != "ClusterRoleBinding" || !slices.Equal(b.Subjects, []rbacv1.Subject{operatorSA}) {
			t.Errorf("%s %s grants abandon to %+v, want the operator's service account %+v cluster-wide",
				u.GetKind(), b.Name, b.Subjects, operatorSA)
		}
		bound++
	}
	if bound != 1 {
		t.Errorf("want one binding of the abandon role, got %d", bound)
	}
}

// "make deploy" installs the policy that refuses drills, bound to every
// namespace not labelled for drills, for OrderSagas and SagaTemplates, and
// failing closed.
func TestTheDrillsPolicyIsDeployedForTheNamespacesNotLabelledForDrills(t *testing.T) {
	objs := render(t)
	policy := convert[admissionregistrationv1.ValidatingAdmissionPolicy](t, named(t, objs, "ValidatingAdmissionPolicy", "ordersaga-drills"))
	rules := policy.Spec.MatchConstraints.ResourceRules
	if len(rules) != 1 || !slices.Equal(rules[0].Resources, []string{"ordersagas", "sagatemplates"}) ||
		!slices.Equal(rules[0].Operations, []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}) {
		t.Errorf("the drills policy must match the creation and update of ordersagas and sagatemplates: %+v", rules)
	}
	if p := policy.Spec.FailurePolicy; p == nil || *p != admissionregistrationv1.Fail {
		t.Error("the drills policy must fail closed")
	}
	binding := convert[admissionregistrationv1.ValidatingAdmissionPolicyBinding](t, named(t, objs, "ValidatingAdmissionPolicyBinding", "ordersaga-drills"))
	if binding.Spec.PolicyName != policy.Name ||
		!slices.Equal(binding.Spec.ValidationActions, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}) {
		t.Errorf("the drills binding must deny by policy %q: %+v", policy.Name, binding.Spec)
	}
	sel := binding.Spec.MatchResources
	if sel == nil || sel.NamespaceSelector == nil || len(sel.NamespaceSelector.MatchExpressions) != 1 {
		t.Fatalf("the drills binding must select namespaces by label: %+v", sel)
	}
	expr := sel.NamespaceSelector.MatchExpressions[0]
	if expr.Key != ordersv1alpha1.DrillsLabel || expr.Operator != "NotIn" || !slices.Equal(expr.Values, []string{ordersv1alpha1.DrillsEnabled}) {
		t.Errorf("the drills binding must select the namespaces without %s=%s: %+v", ordersv1alpha1.DrillsLabel, ordersv1alpha1.DrillsEnabled, expr)
	}
}

// "make deploy" installs the policy that keeps a saga's order, steps and
// template reference as created: it matches the updates of ordersagas, not
// of their status (the operator's frequent writes, which cannot change the
// spec), is bound cluster-wide and fails closed.
func TestTheImmutableSpecPolicyIsDeployed(t *testing.T) {
	objs := render(t)
	policy := convert[admissionregistrationv1.ValidatingAdmissionPolicy](t, named(t, objs, "ValidatingAdmissionPolicy", "ordersaga-immutable-spec"))
	if !matchesSagas(policy.Spec.MatchConstraints.ResourceRules, admissionregistrationv1.Update) {
		t.Errorf("the immutable-spec policy must match the update of ordersagas only: %+v", policy.Spec.MatchConstraints.ResourceRules)
	}
	if p := policy.Spec.FailurePolicy; p == nil || *p != admissionregistrationv1.Fail {
		t.Error("the immutable-spec policy must fail closed")
	}
	for _, field := range []string{"order", "steps", "templateRef"} {
		if !slices.ContainsFunc(policy.Spec.Validations, func(v admissionregistrationv1.Validation) bool {
			return v.Message == "spec."+field+" is immutable"
		}) {
			t.Errorf("the immutable-spec policy must refuse a change of spec.%s: %+v", field, policy.Spec.Validations)
		}
	}
	binding := convert[admissionregistrationv1.ValidatingAdmissionPolicyBinding](t, named(t, objs, "ValidatingAdmissionPolicyBinding", "ordersaga-immutable-spec"))
	if binding.Spec.PolicyName != policy.Name || binding.Spec.MatchResources != nil ||
		!slices.Equal(binding.Spec.ValidationActions, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}) {
		t.Errorf("the immutable-spec binding must deny by policy %q in every namespace: %+v", policy.Name, binding.Spec)
	}
}

// "make deploy" installs the policies that stamp a SagaRequest's requester
// from the creating user and refuse a forged one, both failing closed.
func TestRequesterPoliciesAreDeployed(t *testing.T) {
	objs := render(t)
	mutating := convert[admissionregistrationv1.MutatingAdmissionPolicy](t, named(t, objs, "MutatingAdmissionPolicy", requesterPolicy))
	rules := mutating.Spec.MatchConstraints.ResourceRules
	if len(rules) != 1 || !slices.Equal(rules[0].Resources, []string{"sagarequests"}) ||
		!slices.Equal(rules[0].Operations, []admissionregistrationv1.OperationType{admissionregistrationv1.Create}) {
		t.Errorf("the requester policy must match the creation of sagarequests: %+v", rules)
	}
	if p := mutating.Spec.FailurePolicy; p == nil || *p != admissionregistrationv1.Fail {
		t.Error("the requester mutating policy must fail closed")
	}
	if len(mutating.Spec.Mutations) != 1 || mutating.Spec.Mutations[0].JSONPatch == nil ||
		!strings.Contains(mutating.Spec.Mutations[0].JSONPatch.Expression, "request.userInfo.username") {
		t.Errorf("the requester policy must stamp the request's user: %+v", mutating.Spec.Mutations)
	}
	if b := convert[admissionregistrationv1.MutatingAdmissionPolicyBinding](t, named(t, objs, "MutatingAdmissionPolicyBinding", requesterPolicy)); b.Spec.PolicyName != requesterPolicy {
		t.Errorf("the requester mutating binding names %q", b.Spec.PolicyName)
	}
	validating := convert[admissionregistrationv1.ValidatingAdmissionPolicy](t, named(t, objs, "ValidatingAdmissionPolicy", requesterPolicy))
	if p := validating.Spec.FailurePolicy; p == nil || *p != admissionregistrationv1.Fail {
		t.Error("the requester validating policy must fail closed")
	}
	if len(validating.Spec.Validations) != 1 || !strings.Contains(validating.Spec.Validations[0].Expression, "request.userInfo.username") {
		t.Errorf("the requester validating policy must compare with the request's user: %+v", validating.Spec.Validations)
	}
	b := convert[admissionregistrationv1.ValidatingAdmissionPolicyBinding](t, named(t, objs, "ValidatingAdmissionPolicyBinding", requesterPolicy))
	if b.Spec.PolicyName != requesterPolicy || !slices.Equal(b.Spec.ValidationActions, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}) {
		t.Errorf("the requester validating binding must deny by policy %q: %+v", requesterPolicy, b.Spec)
	}
}
