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

// Package sdk_test guards what the SDK module costs the services that
// import it.
package sdk_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestModuleGraphHasNoKubernetes: a payment service that imports the SDK must
// not get the Kubernetes client libraries, controller-runtime or the
// operator's module in its go.mod. "go list -m all" is the whole module
// graph, test dependencies of dependencies included.
func TestModuleGraphHasNoKubernetes(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "all").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -m all: %v\n%s", err, out)
	}
	modules := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(modules) < 2 || modules[0] != "github.com/ordersaga/ordersaga-operator/sdk" {
		t.Fatalf("not the SDK module's graph:\n%s", out)
	}
	for _, m := range modules[1:] {
		path, _, _ := strings.Cut(m, " ")
		switch {
		case strings.HasPrefix(path, "k8s.io/"), strings.HasPrefix(path, "sigs.k8s.io/"):
			t.Errorf("the SDK module depends on %s", m)
		case strings.HasPrefix(path, "github.com/ordersaga/ordersaga-operator"):
			t.Errorf("the SDK module depends on the operator: %s", m)
		}
	}
}

// sdkPackage matches the SDK's packages and their test variants
// ("…/sdk/participant", "…/sdk_test", "…/sdk.test").
var sdkPackage = regexp.MustCompile(`^github\.com/ordersaga/ordersaga-operator/sdk([/_.]|$)`)

// TestPackagesImportNothingOfTheOperator: the SDK's packages, tests
// included, import only the SDK's own packages of this repository.
func TestPackagesImportNothingOfTheOperator(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps -test ./...: %v\n%s", err, out)
	}
	for pkg := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(pkg, "github.com/ordersaga/ordersaga-operator/") && !sdkPackage.MatchString(pkg) {
			t.Errorf("an SDK package depends on %s", pkg)
		}
	}
}
