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

package metrics

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// listReader returns a reader holding the given sagas.
func listReader(items []ordersv1alpha1.OrderSaga) client.Reader {
	scheme := runtime.NewScheme()
	_ = ordersv1alpha1.AddToScheme(scheme)
	objs := make([]client.Object, len(items))
	for i := range items {
		items[i].Name = string(rune('a' + i))
		items[i].Namespace = "ns"
		objs[i] = &items[i]
	}
	return readerFunc{fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()}
}

type readerFunc struct{ client.Reader }

func (r readerFunc) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	// The fake client does not know UnsafeDisableDeepCopy; drop it.
	return r.Reader.List(ctx, list)
}
