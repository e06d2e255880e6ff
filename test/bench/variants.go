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

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
)

// variant is an operator the benchmark runs: a manager binary with the CRDs
// and admission policies of the tree it was built from, and its flags. Each
// variant is run in the same bench, turn about, so that a change is judged
// as a ratio within one run rather than against a figure of another day.
type variant struct {
	// Name is what the table calls it: "this tree", "baseline <ref>", or
	// "this tree <flags>".
	Name string `json:"name"`
	// Ref is the commit the variant was built from ("" for this tree).
	Ref string `json:"ref,omitempty"`
	// Args are the manager's extra flags.
	Args    []string `json:"args,omitempty"`
	root    string
	manager string
}

// thisTree is the variant built from the working tree.
func thisTree(manager string) variant {
	return variant{Name: "this tree", root: controlplane.RepoRoot(), manager: manager}
}

// buildBaseline checks ref out in a git worktree of its own (removed at
// teardown) and builds its manager.
func (b *bench) buildBaseline(ref string) (variant, error) {
	repo := controlplane.RepoRoot()
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--short", ref+"^{commit}").Output()
	if err != nil {
		return variant{}, fmt.Errorf("baseline %q is not a git ref of %s: %w", ref, repo, err)
	}
	commit := strings.TrimSpace(string(out))
	dir := filepath.Join(b.dir, "baseline-"+commit)
	if out, err := exec.Command("git", "-C", repo, "worktree", "add", "--detach", dir, commit).CombinedOutput(); err != nil {
		return variant{}, fmt.Errorf("check out %s: %w\n%s", ref, err, out)
	}
	b.worktrees = append(b.worktrees, dir)
	manager, err := buildManager(dir, filepath.Join(b.dir, "manager-"+commit))
	if err != nil {
		return variant{}, err
	}
	return variant{Name: "baseline " + ref, Ref: commit, root: dir, manager: manager}, nil
}

// removeWorktrees removes the baselines' git worktrees.
func (b *bench) removeWorktrees() {
	for _, dir := range b.worktrees {
		_ = exec.Command("git", "-C", controlplane.RepoRoot(), "worktree", "remove", "--force", dir).Run()
	}
}

// useVariant installs the variant's CRDs and admission policies in place of
// those installed, where they differ: a baseline is measured with the API
// it was built for, since what the apiserver validates on each write is
// part of what a change may change.
//
// The policies' probes change a saga's spec, which a ref's CRDs and its
// policies judge together: the old policies go while the old CRDs are in
// place, and the new ones come once the new CRDs are.
func (b *bench) useVariant(v variant) error {
	policies, err := controlplane.RenderAt(v.root, "config/admission")
	if err != nil {
		return err
	}
	same := reflect.DeepEqual(policies, b.policies)
	if !same {
		if err := controlplane.RemovePolicies(b.ctx, b.cfg, b.policies); err != nil {
			return err
		}
	}
	if err := b.applyCRDs(filepath.Join(v.root, "config", "crd", "bases")); err != nil {
		return err
	}
	if !same {
		if err := controlplane.InstallPolicies(b.ctx, b.cfg, policies); err != nil {
			return err
		}
		b.policies = policies
	}
	return nil
}

// applyCRDs updates the installed CRDs to those of dir where they differ,
// and waits until the apiserver serves them established.
func (b *bench) applyCRDs(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		want := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(raw, want); err != nil {
			return fmt.Errorf("decode %s: %w", f, err)
		}
		have := &apiextensionsv1.CustomResourceDefinition{}
		if err := b.k8s.Get(b.ctx, client.ObjectKeyFromObject(want), have); err != nil {
			return err
		}
		if reflect.DeepEqual(have.Spec.Versions, want.Spec.Versions) {
			continue
		}
		have.Spec = want.Spec
		if err := b.k8s.Update(b.ctx, have); err != nil {
			return fmt.Errorf("update CRD %s: %w", have.Name, err)
		}
		generation := have.Generation
		if err := waitFor(b.ctx, 30*time.Second, func() bool {
			got := &apiextensionsv1.CustomResourceDefinition{}
			return b.k8s.Get(b.ctx, client.ObjectKeyFromObject(want), got) == nil &&
				got.Generation == generation && established(got)
		}); err != nil {
			return fmt.Errorf("CRD %s not established: %w", have.Name, err)
		}
	}
	return nil
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}
