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

// Package manifests checks the operator as it is deployed: the manifests
// that "kubectl kustomize config/default" renders.
package manifests

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
)

// render returns the objects of config/default, as "make deploy" applies
// them, rendered by the kubectl of the envtest assets.
func render(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := controlplane.Render("config/default")
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func convert[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func byKind(objs []*unstructured.Unstructured, kinds ...string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if slices.Contains(kinds, o.GetKind()) {
			out = append(out, o)
		}
	}
	return out
}

func TestDeploymentMeetsTheRestrictedPodSecurityStandard(t *testing.T) {
	objs := render(t)
	deployments := byKind(objs, "Deployment")
	if len(deployments) != 1 {
		t.Fatalf("want one Deployment, got %d", len(deployments))
	}
	d := convert[appsv1.Deployment](t, deployments[0])
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	level := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	for _, r := range evaluator.EvaluatePod(level, &d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec) {
		if !r.Allowed {
			t.Errorf("restricted Pod Security Standard: %s: %s", r.ForbiddenReason, r.ForbiddenDetail)
		}
	}
	// Beyond the standard: what a compromised process could still use.
	for _, c := range d.Spec.Template.Spec.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: the root filesystem must be read-only", c.Name)
		}
		if c.Resources.Limits.Memory().IsZero() || c.Resources.Limits.Cpu().IsZero() {
			t.Errorf("container %s: CPU and memory must be limited", c.Name)
		}
	}
	checkSecretVolumes(t, &d.Spec.Template.Spec)
	if d.Spec.Template.Spec.AutomountServiceAccountToken != nil && !*d.Spec.Template.Spec.AutomountServiceAccountToken {
		t.Error("the manager needs its service account token to reach the apiserver")
	}
	namespaces := byKind(objs, "Namespace")
	if len(namespaces) != 1 || namespaces[0].GetLabels()["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Error("the operator's namespace must enforce the restricted Pod Security Standard")
	}
}

// operatorGrants are the operator's own rights: what it uses, no more.
var operatorGrants = map[string][]string{
	"ordersaga-manager-role orders.ordersaga.io/ordersagas":            {"delete", "get", "list", "patch", "watch"},
	"ordersaga-manager-role orders.ordersaga.io/ordersagas/status":     {"get", "patch"},
	"ordersaga-manager-role orders.ordersaga.io/ordersagas/finalizers": {"update"},
	"ordersaga-abandon-role orders.ordersaga.io/ordersagas":            {"abandon"},
	"ordersaga-manager-role events.k8s.io/events":                      {"create", "patch"},
	"ordersaga-manager-role orders.ordersaga.io/participants":          {"get", "list", "watch"},
	"ordersaga-manager-role orders.ordersaga.io/sagatemplates":         {"get", "list", "watch"},
	"ordersaga-manager-role orders.ordersaga.io/participants/status":   {"get", "patch"},
	"ordersaga-manager-role orders.ordersaga.io/sagarequests":          {"get", "list", "watch"},
	"ordersaga-manager-role orders.ordersaga.io/sagarequests/status":   {"get", "patch"},
	// On-call people: manual verbs through SagaRequests, sagas read-only.
	"ordersaga-saga-requester orders.ordersaga.io/sagarequests":             {"create", "get", "list", "watch"},
	"ordersaga-saga-requester orders.ordersaga.io/ordersagas":               {"get", "list", "watch"},
	"ordersaga-manager-role /namespaces":                                    {"get", "list", "watch"},
	"ordersaga-leader-election-role coordination.k8s.io/leases":             {"create", "get", "update"},
	"ordersaga-leader-election-role /events":                                {"create", "patch"},
	"ordersaga-metrics-auth-role authentication.k8s.io/tokenreviews":        {"create"},
	"ordersaga-metrics-auth-role authorization.k8s.io/subjectaccessreviews": {"create"},
}

// grants collects the rules of every role as "role apiGroup/resource" →
// verbs, and reports wildcards and sensitive resources.
func grants(t *testing.T, roles []*unstructured.Unstructured) map[string][]string {
	t.Helper()
	granted := map[string][]string{}
	for _, u := range roles {
		for _, rule := range convert[rbacv1.ClusterRole](t, u).Rules {
			for _, field := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs, rule.ResourceNames} {
				if slices.Contains(field, "*") {
					t.Errorf("%s %s grants a wildcard: %+v", u.GetKind(), u.GetName(), rule)
				}
			}
			if len(rule.NonResourceURLs) > 0 && u.GetName() != "ordersaga-metrics-reader" {
				t.Errorf("%s grants non-resource URLs: %+v", u.GetName(), rule)
			}
			for _, res := range rule.Resources {
				if res == "secrets" || res == "pods/exec" || res == "serviceaccounts/token" {
					t.Errorf("%s %s grants %s", u.GetKind(), u.GetName(), res)
				}
				for _, g := range rule.APIGroups {
					key := u.GetName() + " " + g + "/" + res
					granted[key] = append(granted[key], rule.Verbs...)
				}
			}
		}
	}
	return granted
}

// checkSecretVolumes: the broker credentials are a Secret file that the
// non-root user must read, and no one else.
func checkSecretVolumes(t *testing.T, spec *corev1.PodSpec) {
	t.Helper()
	for _, v := range spec.Volumes {
		if v.Secret == nil {
			continue
		}
		mode := int32(0o644)
		if v.Secret.DefaultMode != nil {
			mode = *v.Secret.DefaultMode
		}
		readable := mode&0o004 != 0 || (mode&0o040 != 0 && spec.SecurityContext != nil && spec.SecurityContext.FSGroup != nil)
		if !readable {
			t.Errorf("Secret volume %s (mode %o) is not readable by the non-root user", v.Name, mode)
		}
		if mode&0o006 != 0 {
			t.Errorf("Secret volume %s (mode %o) is readable or writable by others", v.Name, mode)
		}
	}
}

// The operator's roles grant only what it uses: no wildcard, no Secret.
func TestRBACGrantsOnlyWhatTheOperatorUses(t *testing.T) {
	objs := render(t)
	roles := byKind(objs, "Role", "ClusterRole")
	if len(roles) == 0 {
		t.Fatal("no roles rendered")
	}
	granted := grants(t, roles)
	for key, verbs := range granted {
		want, isOperator := operatorGrants[key]
		switch {
		case isOperator:
			slices.Sort(verbs)
			if !slices.Equal(verbs, want) {
				t.Errorf("%s: verbs %v, want %v", key, verbs, want)
			}
		case !isUserRole(key):
			t.Errorf("unexpected grant %s %v", key, verbs)
		}
	}
	for key := range operatorGrants {
		if _, ok := granted[key]; !ok {
			t.Errorf("%s is not granted", key)
		}
	}
	// No binding hands out cluster-admin or the like.
	for _, u := range byKind(objs, "RoleBinding", "ClusterRoleBinding") {
		b := convert[rbacv1.ClusterRoleBinding](t, u)
		if b.RoleRef.Name == "cluster-admin" || b.RoleRef.Name == "admin" || b.RoleRef.Name == "edit" {
			t.Errorf("%s binds %s", b.Name, b.RoleRef.Name)
		}
	}
}

func isUserRole(key string) bool {
	for _, prefix := range []string{"ordersaga-editor-role ", "ordersaga-viewer-role "} {
		if len(key) > len(prefix) && key[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// Bus starts need the create permission on OrderSagas; it is in the optional
// config/rbac-bus-start, bound per namespace to the ServiceAccount that
// config/default deploys, never in the default role.
func TestBusStartRBACIsSeparateAndBindsTheOperator(t *testing.T) {
	for key, verbs := range grants(t, byKind(render(t), "ClusterRole", "Role")) {
		// The editor role is for people, not bound to the operator.
		if strings.HasSuffix(key, " orders.ordersaga.io/ordersagas") && slices.Contains(verbs, "create") &&
			!strings.HasPrefix(key, "ordersaga-editor-role ") {
			t.Errorf("config/default grants create on ordersagas: %s", key)
		}
	}
	objs, err := controlplane.Render("config/rbac-bus-start")
	if err != nil {
		t.Fatal(err)
	}
	granted := grants(t, byKind(objs, "ClusterRole"))
	if want := map[string][]string{"ordersaga-bus-start orders.ordersaga.io/ordersagas": {"create"}}; !reflect.DeepEqual(granted, want) {
		t.Errorf("config/rbac-bus-start grants %v, want %v", granted, want)
	}
	var sa *unstructured.Unstructured
	for _, o := range byKind(render(t), "ServiceAccount") {
		sa = o
	}
	bindings := byKind(objs, "RoleBinding")
	if sa == nil || len(bindings) != 1 {
		t.Fatalf("service account %v, bindings %d", sa, len(bindings))
	}
	b := convert[rbacv1.RoleBinding](t, bindings[0])
	if b.RoleRef.Name != "ordersaga-bus-start" || len(b.Subjects) != 1 ||
		b.Subjects[0].Name != sa.GetName() || b.Subjects[0].Namespace != sa.GetNamespace() {
		t.Errorf("binding %+v does not bind the operator's ServiceAccount %s/%s", b, sa.GetNamespace(), sa.GetName())
	}
}
