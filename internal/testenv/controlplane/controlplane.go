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

// Package controlplane starts the envtest control plane (a real
// kube-apiserver and etcd) with the project's CRDs and admission policies
// installed, for the integration suites, the demo and the benchmark, and
// gives the suites the identities the policies tell apart.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// K8sVersion is the Kubernetes version of the control plane the tests use.
const K8sVersion = "1.37.2"

// RepoRoot returns the root of the repository, found from this file's path so
// that tests work from any package directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// AssetsDir returns the directory holding kube-apiserver, etcd and kubectl:
// KUBEBUILDER_ASSETS when set (make test sets it), else the cache that
// hack/setup-envtest.sh fills.
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory: %w", err)
	}
	dir := filepath.Join(home, ".local", "share", "kubebuilder-envtest", "k8s", K8sVersion+"-"+runtime.GOOS+"-"+runtime.GOARCH)
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
		return "", errors.New("envtest binaries not found: run hack/setup-envtest.sh or make test")
	}
	return dir, nil
}

// Start starts a control plane with the OrderSaga CRD installed and the
// admission policies of config/admission in force, as "make deploy" leaves a
// cluster.
func Start() (*envtest.Environment, *rest.Config, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, nil, err
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("start envtest: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*policyLoadTimeout)
	defer cancel()
	if err := InstallAdmissionPolicies(ctx, cfg); err != nil {
		_ = env.Stop()
		return nil, nil, err
	}
	return env, cfg, nil
}
