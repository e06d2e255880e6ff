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

package controlplane

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/poll"
)

// clusterRoleKind is the kind of the roles config/rbac renders.
const clusterRoleKind = "ClusterRole"

// rbacLoadTimeout bounds the wait for new RBAC to be in force: the
// apiserver's authorizer reads roles and bindings through informers.
const rbacLoadTimeout = 30 * time.Second

// Editor returns a config that acts as user, to whom namespace's
// RoleBinding grants the editor role of config/rbac (what the built-in
// "edit" role aggregates on OrderSagas), and nothing else.
func Editor(ctx context.Context, cfg *rest.Config, namespace, user string) (*rest.Config, error) {
	objs, err := Render("config/default")
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(objs, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == clusterRoleKind && o.GetLabels()["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
	})
	if i < 0 {
		return nil, errors.New("config/default renders no ClusterRole aggregated to edit")
	}
	role := objs[i]
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: role.GetName() + "-" + user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: role.GetKind(), Name: role.GetName()},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	if err := createAll(ctx, c, role, binding); err != nil {
		return nil, fmt.Errorf("grant %s the editor role: %w", user, err)
	}
	id := rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	if err := waitUntilAllowed(ctx, c, id, namespace, "patch"); err != nil {
		return nil, err
	}
	out := rest.CopyConfig(cfg)
	out.Impersonate = id
	return out, nil
}

// Requester returns a config that acts as user, in groups, to whom
// namespace's RoleBinding grants the saga requester role of config/rbac
// (SagaRequests, no edit of sagas), and nothing else.
func Requester(ctx context.Context, cfg *rest.Config, namespace, user string, groups ...string) (*rest.Config, error) {
	objs, err := Render("config/default")
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(objs, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == clusterRoleKind && strings.HasSuffix(o.GetName(), "saga-requester")
	})
	if i < 0 {
		return nil, errors.New("config/default renders no saga requester ClusterRole")
	}
	role := objs[i]
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: role.GetName() + "-" + user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: role.GetKind(), Name: role.GetName()},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	if err := createAll(ctx, c, role, binding); err != nil {
		return nil, fmt.Errorf("grant %s the saga requester role: %w", user, err)
	}
	id := rest.ImpersonationConfig{UserName: user, Groups: append(groups, "system:authenticated")}
	if err := waitUntilAllowed(ctx, c, id, namespace, "get"); err != nil {
		return nil, err
	}
	out := rest.CopyConfig(cfg)
	out.Impersonate = id
	return out, nil
}

// OperatorServiceAccount returns a config that acts as the service account
// the operator's Deployment of config/default runs as, with the RBAC that
// config/default grants it applied: the operator's identity as "make
// deploy" installs it.
func OperatorServiceAccount(ctx context.Context, cfg *rest.Config) (*rest.Config, error) {
	objs, err := Render("config/default")
	if err != nil {
		return nil, err
	}
	var namespace, name string
	var rbac []client.Object
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			namespace = o.GetNamespace()
			name, _, _ = unstructured.NestedString(o.Object, "spec", "template", "spec", "serviceAccountName")
		case "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			rbac = append(rbac, o)
		}
	}
	if name == "" {
		return nil, errors.New("config/default renders no Deployment with a service account")
	}
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	if err := createAll(ctx, c, rbac...); err != nil {
		return nil, fmt.Errorf("apply the operator's RBAC: %w", err)
	}
	// The user name and groups the apiserver gives a service account's token.
	id := rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	if err := waitUntilAllowed(ctx, c, id, "", "patch"); err != nil {
		return nil, err
	}
	out := rest.CopyConfig(cfg)
	out.Impersonate = id
	return out, nil
}

// waitUntilAllowed waits until RBAC lets id do verb on OrderSagas in
// namespace ("" for all of them).
func waitUntilAllowed(ctx context.Context, c client.Client, id rest.ImpersonationConfig, namespace, verb string) error {
	var lastErr error
	allowed := func() bool {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: id.UserName, Groups: id.Groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: namespace, Verb: verb, Group: ordersv1alpha1.GroupVersion.Group, Resource: "ordersagas",
			},
		}}
		lastErr = c.Create(ctx, review)
		return lastErr == nil && review.Status.Allowed
	}
	if err := poll.Until(ctx, rbacLoadTimeout, allowed); err != nil {
		return fmt.Errorf("%s may still not %s ordersagas in %q: %w", id.UserName, verb, namespace, errors.Join(err, lastErr))
	}
	return nil
}
