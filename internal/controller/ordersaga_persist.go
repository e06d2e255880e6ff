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

package controller

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ordersaga/ordersaga-operator/internal/faults"
)

// persistStatus writes the status if the pass changed it. The patch carries
// the resourceVersion read: if the read was stale, the write fails with a
// conflict (errStaleView) and nothing of this pass takes effect, so a stale
// read can never send a command twice.
func (r *OrderSagaReconciler) persistStatus(ctx context.Context, req PersistStatus) (StatusPersisted, error) {
	if equality.Semantic.DeepEqual(req.Base.Status, req.Saga.Status) {
		return StatusPersisted{}, nil
	}
	// The write happens anyway: it records the lifecycle events published
	// since the last one (the outbox costs no write of its own).
	req.Saga.Status.PublishedThrough = r.events.through(req.Saga)
	if err := r.Status().Patch(ctx, req.Saga, client.MergeFromWithOptions(req.Base, client.MergeFromWithOptimisticLock{})); err != nil {
		return StatusPersisted{}, staleView(fmt.Errorf("patch status: %w", err))
	}
	faults.Crash(faults.AfterStatusWrite)
	return StatusPersisted{Written: true}, nil
}
