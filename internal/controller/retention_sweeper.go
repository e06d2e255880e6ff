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
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// RetentionSweeper deletes finished sagas whose time to live has passed.
// They are out of the operator's cache (FinishedLabel), so it lists them
// from the apiserver, metadata only and a page at a time: its memory does
// not grow with the sagas kept. It runs only on the leader (a Runnable's
// default).
type RetentionSweeper struct {
	// Reader lists past the cache (the manager's APIReader); Writer deletes.
	Reader client.Reader
	Writer client.Writer
	Clock  clock.PassiveClock
	// Interval is how often the finished sagas are looked at: a saga is
	// deleted at most this long after it expires.
	Interval time.Duration
	// Namespaces, when set (a shard's), are swept one by one: the sweeper
	// lists nothing outside them. Empty sweeps every namespace in one list.
	Namespaces []string
}

// sweepPageSize bounds the sagas listed per request.
const sweepPageSize = 500

// Start sweeps until ctx ends. It implements manager.Runnable.
func (w *RetentionSweeper) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("retention")
	ticker := time.NewTicker(w.Interval)
	defer ticker.Stop()
	for {
		deleted, err := w.Sweep(ctx)
		switch {
		case err != nil:
			log.Info("Retention sweep failed; trying again at the next", "error", err.Error(), "deleted", deleted)
		case deleted > 0:
			log.Info("Expired sagas deleted", "deleted", deleted)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Sweep deletes every finished saga that has expired and says how many.
func (w *RetentionSweeper) Sweep(ctx context.Context) (int, error) {
	namespaces := w.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	deleted := 0
	for _, ns := range namespaces {
		n, err := w.sweep(ctx, ns)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// sweep deletes the expired sagas of namespace (every one when it is
// metav1.NamespaceAll).
func (w *RetentionSweeper) sweep(ctx context.Context, namespace string) (int, error) {
	now := w.Clock.Now()
	deleted := 0
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(ordersv1alpha1.GroupVersion.WithKind("OrderSagaList"))
	opts := []client.ListOption{client.InNamespace(namespace), client.HasLabels{ordersv1alpha1.FinishedLabel}, client.Limit(sweepPageSize)}
	for {
		if err := w.Reader.List(ctx, list, opts...); err != nil {
			return deleted, fmt.Errorf("list finished sagas: %w", err)
		}
		for i := range list.Items {
			m := &list.Items[i]
			at, err := time.Parse(time.RFC3339, m.Annotations[ordersv1alpha1.ExpiresAnnotation])
			if err != nil || at.After(now) {
				continue // kept, or not yet
			}
			uid := m.UID
			m.SetGroupVersionKind(ordersv1alpha1.GroupVersion.WithKind("OrderSaga"))
			if err := w.Writer.Delete(ctx, m, client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
				return deleted, fmt.Errorf("delete expired saga %s/%s: %w", m.Namespace, m.Name, err)
			}
			deleted++
		}
		if list.Continue == "" {
			return deleted, nil
		}
		opts = append(opts[:3:3], client.Continue(list.Continue))
	}
}
