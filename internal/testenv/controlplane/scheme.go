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
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// Scheme returns a new scheme with the built-in kinds and the project's:
// what the suites', the probes' and the benchmark's clients and managers
// need.
func Scheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("add the built-in kinds: %w", err)
	}
	if err := ordersv1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("add the project's kinds: %w", err)
	}
	return scheme, nil
}
