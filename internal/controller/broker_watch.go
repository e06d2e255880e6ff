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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/lifecycle"
)

// brokerWatch wakes every saga in progress when the broker becomes available
// again, so that paused timers resume and held commands leave at once
// instead of at each saga's next safety-net pass. It runs only on the leader
// (a Runnable's default), whose controller reads its events.
type brokerWatch struct {
	publisher CommandPublisher
	reader    client.Reader
	events    chan event.GenericEvent
	// interval is how often the broker's availability is checked: a read of
	// the connection's state, nothing sent.
	interval time.Duration
}

func newBrokerWatch(publisher CommandPublisher, reader client.Reader) *brokerWatch {
	return &brokerWatch{publisher: publisher, reader: reader, events: make(chan event.GenericEvent, 1024), interval: 100 * time.Millisecond}
}

// Start watches until ctx ends. It implements manager.Runnable.
func (w *brokerWatch) Start(ctx context.Context) error {
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	wasDown := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		down := !w.publisher.UnavailableSince().IsZero()
		if wasDown && !down {
			w.wakeAll(ctx)
		}
		wasDown = down
	}
}

// wakeAll enqueues every saga the cache holds that may have something to
// send: commands, compensations or lifecycle events.
func (w *brokerWatch) wakeAll(ctx context.Context) {
	list := &ordersv1alpha1.OrderSagaList{}
	// The list is only read: no need to copy every saga out of the cache.
	if err := w.reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Info("Sagas not woken after the broker came back; their passes come later", "error", err.Error())
		return
	}
	woken := 0
	for i := range list.Items {
		s := &list.Items[i]
		// A finished saga still in the cache may have lifecycle events to
		// publish and is yet to retire; a Failed one waits for a person.
		if s.Status.Phase == ordersv1alpha1.PhaseFailed && s.DeletionTimestamp.IsZero() &&
			lifecycle.Drained(&s.Status, s.Status.PublishedThrough) {
			continue
		}
		obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name}}
		select {
		case w.events <- event.GenericEvent{Object: obj}:
			woken++
		case <-ctx.Done():
			return
		}
	}
	ctrl.LoggerFrom(ctx).Info("Broker available again; sagas woken", "sagas", woken)
}
