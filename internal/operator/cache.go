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

package operator

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// unfinished selects the sagas the operator keeps in its cache: a finished
// saga, once labelled, leaves it, so that the operator's memory follows the
// sagas in flight rather than every saga kept in etcd.
var unfinished = mustParseSelector(ordersv1alpha1.FinishedSelector)

func mustParseSelector(s string) labels.Selector {
	sel, err := labels.Parse(s)
	if err != nil {
		// A constant of the API: a test parses it.
		panic(fmt.Sprintf("parse label selector %q: %v", s, err))
	}
	return sel
}

// CacheOptions returns the manager's cache settings, the one home for them:
// cmd/ and every suite that runs the operator use it. OrderSagas are cached
// only while not finished (the apiserver filters them, so finished ones
// never reach the operator), and no object keeps its managedFields, which
// the operator never reads and which are a large part of a saga's size.
// With namespaces (Options.Namespaces, a shard's), namespaced kinds are
// watched in those only; cluster-scoped ones (Participants, Namespaces)
// stay cluster-wide.
func CacheOptions(namespaces ...string) cache.Options {
	opts := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&ordersv1alpha1.OrderSaga{}: {Label: unfinished},
		},
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = make(map[string]cache.Config, len(namespaces))
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}
