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

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/poll"
)

// policyLoadTimeout bounds the wait for the apiserver to apply a change of
// the policies: it loads policies and bindings through informers, so a
// policy just created is not in force at once, nor gone once deleted.
const policyLoadTimeout = 30 * time.Second

// AdmissionPolicies returns the admission policies and bindings of
// config/admission, as "make deploy" installs them (without its name prefix).
func AdmissionPolicies() ([]*unstructured.Unstructured, error) {
	return Render("config/admission")
}

// InstallAdmissionPolicies creates the admission policies and waits until
// all are in force: a new saga gets the finalizer, removing it from a saga
// that has not finished is refused to a user who may not abandon sagas, a
// drilled saga is refused in a namespace not labelled for drills, and a
// change of a saga's order is refused.
func InstallAdmissionPolicies(ctx context.Context, cfg *rest.Config) error {
	objs, err := AdmissionPolicies()
	if err != nil {
		return err
	}
	return InstallPolicies(ctx, cfg, objs)
}

// InstallPolicies creates the given admission policies and bindings (of
// config/admission, here or at another ref) and waits until all are in force.
func InstallPolicies(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured) error {
	c, err := newClient(cfg)
	if err != nil {
		return err
	}
	policies := make([]client.Object, len(objs))
	for i, o := range objs {
		policies[i] = o
	}
	if err := createAll(ctx, c, policies...); err != nil {
		return fmt.Errorf("install the admission policies: %w", err)
	}
	return waitForPolicies(ctx, cfg, objs, true)
}

// RemoveAdmissionPolicies deletes the admission policies and waits until
// neither is in force any more, for tests of an installation without them.
func RemoveAdmissionPolicies(ctx context.Context, cfg *rest.Config) error {
	objs, err := AdmissionPolicies()
	if err != nil {
		return err
	}
	return RemovePolicies(ctx, cfg, objs)
}

// RemovePolicies deletes the given admission policies and bindings and
// waits until none is in force.
func RemovePolicies(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured) error {
	c, err := newClient(cfg)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := c.Delete(ctx, o.DeepCopy()); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return waitForPolicies(ctx, cfg, objs, false)
}

// The names of the validating policies in config/admission.
const (
	finalizerPolicy     = "compensate-finalizer"
	drillsPolicy        = "drills"
	immutableSpecPolicy = "immutable-spec"
)

// waitForPolicies probes until every policy is in force (or none is),
// judging by their effects. The immutable-spec policy is probed only if
// objs hold it: the benchmark installs an older ref's policies, from before
// it existed.
func waitForPolicies(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured, inForce bool) error {
	has := func(name string) bool {
		return slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool {
			return o.GetKind() == "ValidatingAdmissionPolicy" && o.GetName() == name
		})
	}
	for _, name := range []string{finalizerPolicy, drillsPolicy} {
		if !has(name) {
			return fmt.Errorf("config/admission renders no ValidatingAdmissionPolicy %s", name)
		}
	}
	p, err := startProbe(ctx, cfg, finalizerPolicy)
	if err != nil {
		return err
	}
	defer func() { _ = p.stop() }()
	// Each probe says whether its policy acted; all must agree with inForce.
	probes := []func(context.Context) (bool, error){p.mutated, p.refused, p.drillRefused}
	if has(immutableSpecPolicy) {
		probes = append(probes, p.specChangeRefused)
	}
	var lastErr error
	check := func() bool {
		for _, probe := range probes {
			acted, err := probe(ctx)
			if err != nil || acted != inForce {
				lastErr = err
				return false
			}
		}
		return true
	}
	if err := poll.Until(ctx, policyLoadTimeout, check); err != nil {
		state := map[bool]string{true: "in force", false: "gone"}[inForce]
		return fmt.Errorf("admission policies still not %s: %w", state, errors.Join(err, lastErr))
	}
	return p.stop()
}

// probeUser may read and patch sagas in probeNamespace, and nothing else:
// the validating policy refuses it the finalizer's removal.
const (
	probeUser      = "ordersaga-admission-probe"
	probeNamespace = metav1.NamespaceDefault
)

// probe tells whether the policies are in force by their effects on a saga
// of its own.
type probe struct {
	admin, user client.Client
	// saga is stored, with the finalizer and no status: a saga that has not
	// finished.
	saga *ordersv1alpha1.OrderSaga
	// denial is how the apiserver's refusal by the validating policy starts.
	denial string
	rbac   []client.Object
}

func startProbe(ctx context.Context, cfg *rest.Config, validatingPolicy string) (*probe, error) {
	admin, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	userCfg := rest.CopyConfig(cfg)
	userCfg.Impersonate = rest.ImpersonationConfig{UserName: probeUser}
	user, err := newClient(userCfg)
	if err != nil {
		return nil, err
	}
	name := "admission-probe-" + rand.String(5)
	p := &probe{admin: admin, user: user, denial: fmt.Sprintf("ValidatingAdmissionPolicy '%s'", validatingPolicy),
		saga: fixtures.NewSaga(probeNamespace, name)}
	p.rbac = []client.Object{
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: probeNamespace, Name: name},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{ordersv1alpha1.GroupVersion.Group},
				Resources: []string{"ordersagas"}, Verbs: []string{"get", "patch"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: probeNamespace, Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: probeUser}}},
	}
	for _, o := range p.rbac {
		if err := admin.Create(ctx, o); err != nil {
			_ = p.stop()
			return nil, fmt.Errorf("create the probe's %T: %w", o, err)
		}
	}
	// The finalizer is set here, so that the mutating policy (which adds it
	// only if missing) changes nothing and the validating one has something
	// to guard whether or not either is in force.
	controllerutil.AddFinalizer(p.saga, ordersv1alpha1.Finalizer)
	if err := admin.Create(ctx, p.saga); err != nil {
		_ = p.stop()
		return nil, fmt.Errorf("create the probe saga: %w", err)
	}
	return p, nil
}

// mutated reports whether a saga created now gets the finalizer at
// admission (a dry run: nothing is stored).
func (p *probe) mutated(ctx context.Context) (bool, error) {
	s := fixtures.NewSaga(probeNamespace, p.saga.Name+"-new")
	if err := p.admin.Create(ctx, s, client.DryRunAll); err != nil {
		return false, fmt.Errorf("create a saga (dry run): %w", err)
	}
	return controllerutil.ContainsFinalizer(s, ordersv1alpha1.Finalizer), nil
}

// refused reports whether the validating policy refuses the probe user the
// removal of the finalizer (a dry run). Until the user's RBAC is in force,
// RBAC refuses it instead: that is not the policy.
func (p *probe) refused(ctx context.Context) (bool, error) {
	s := p.saga.DeepCopy()
	base := s.DeepCopy()
	controllerutil.RemoveFinalizer(s, ordersv1alpha1.Finalizer)
	err := p.user.Patch(ctx, s, client.MergeFrom(base), client.DryRunAll)
	switch {
	case err == nil:
		return false, nil
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), p.denial):
		return true, nil
	default:
		return false, fmt.Errorf("remove the finalizer (dry run): %w", err)
	}
}

// drillRefused reports whether the drills policy refuses a drilled saga in
// the probe's namespace, which is not labelled for drills (a dry run).
func (p *probe) drillRefused(ctx context.Context) (bool, error) {
	s := fixtures.NewSaga(probeNamespace, p.saga.Name+"-drill")
	s.Spec.Steps[0].Drill = ordersv1alpha1.DrillFail
	err := p.admin.Create(ctx, s, client.DryRunAll)
	switch {
	case err == nil:
		return false, nil
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), fmt.Sprintf("ValidatingAdmissionPolicy '%s'", drillsPolicy)):
		return true, nil
	default:
		return false, fmt.Errorf("create a drilled saga (dry run): %w", err)
	}
}

// specChangeRefused reports whether the immutable-spec policy refuses a
// change of the probe saga's order (a dry run).
func (p *probe) specChangeRefused(ctx context.Context) (bool, error) {
	s := p.saga.DeepCopy()
	base := s.DeepCopy()
	s.Spec.Order.Total.Amount = "0.01"
	err := p.admin.Patch(ctx, s, client.MergeFrom(base), client.DryRunAll)
	switch {
	case err == nil:
		return false, nil
	case apierrors.IsInvalid(err) && strings.Contains(err.Error(), fmt.Sprintf("ValidatingAdmissionPolicy '%s'", immutableSpecPolicy)):
		return true, nil
	default:
		return false, fmt.Errorf("change the order of a saga (dry run): %w", err)
	}
}

// stop deletes the probe's saga and RBAC; it may run more than once.
func (p *probe) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if p.saga.UID != "" {
		base := p.saga.DeepCopy()
		controllerutil.RemoveFinalizer(p.saga, ordersv1alpha1.Finalizer)
		if err := p.admin.Patch(ctx, p.saga, client.MergeFrom(base)); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("release the probe saga: %w", err))
		} else if err := p.admin.Delete(ctx, p.saga); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("delete the probe saga: %w", err))
		}
	}
	for _, o := range p.rbac {
		if err := p.admin.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("delete the probe's %T: %w", o, err))
		}
	}
	return errors.Join(errs...)
}

// newClient returns a client of cfg that knows the project's types.
func newClient(cfg *rest.Config) (client.Client, error) {
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return c, nil
}
