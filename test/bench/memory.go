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
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// memoryRatioTarget is the bound: finished sagas besides those in
// flight may cost at most 10% more RSS than those in flight alone.
const memoryRatioTarget = 1.10

// MemoryResult is the operator's settled memory with sagas in flight alone,
// then with many finished sagas besides.
type MemoryResult struct {
	InFlight int `json:"inFlight"`
	// Finished sagas were created already labelled finished, straight into
	// the apiserver; Completed ones ran to completion through the operator.
	Finished  int `json:"finishedCreatedLabelled"`
	Completed int `json:"completedThroughOperator"`
	// Of the Completed ones at the second measurement: labelled finished by
	// the operator, deleted after their TTL, and neither (still cached).
	CompletedLabelled   int `json:"completedLabelled"`
	CompletedDeleted    int `json:"completedDeleted"`
	CompletedUnlabelled int `json:"completedUnlabelled"`

	InFlightOnly Footprint `json:"inFlightOnly"`
	WithFinished Footprint `json:"withFinished"`
	// Ratio is WithFinished's RSS over InFlightOnly's.
	Ratio  float64 `json:"rssRatio"`
	Target float64 `json:"rssRatioTarget"`
	Pass   bool    `json:"pass"`
}

// Footprint is the operator's memory once settled: after forced garbage
// collections, when its RSS has stopped falling.
type Footprint struct {
	RSSMiB  float64 `json:"rssMiB"`
	HeapMiB float64 `json:"heapInUseMiB"`
	// CachedSagas is the sum of ordersaga_sagas, counted from the cache.
	CachedSagas int `json:"cachedSagas"`
}

// memory measures what finished sagas cost the operator: inFlight sagas
// held in flight alone, then with finished sagas created labelled and
// completing sagas run through the operator. It starts an operator of its
// own, on an apiserver cleared of the sagas of earlier runs.
func (b *bench) memory(cfg Config) (*MemoryResult, error) {
	if err := b.clearSagas(); err != nil {
		return nil, err
	}
	if err := b.startOperator(thisTree(b.manager), cfg.Concurrency); err != nil {
		return nil, err
	}
	if b.participants == nil {
		// The operator declares the participants' queues: it runs first.
		step("starting the participants")
		if err := b.startParticipants(); err != nil {
			return nil, err
		}
	}
	res := &MemoryResult{InFlight: cfg.MemoryInFlight, Finished: cfg.Finished, Completed: cfg.Completing, Target: memoryRatioTarget}
	ns, err := b.namespace("memory-held")
	if err != nil {
		return nil, err
	}
	if err := parallel(16, cfg.MemoryInFlight, func(i int) error {
		return b.k8s.Create(b.ctx, heldSaga(ns, fmt.Sprintf("held-%05d", i)))
	}); err != nil {
		return nil, fmt.Errorf("create held sagas: %w", err)
	}
	if err := b.waitHeld(0, cfg.MemoryInFlight); err != nil {
		return nil, err
	}
	step("settling the operator's memory")
	if res.InFlightOnly, err = b.settledFootprint(); err != nil {
		return nil, err
	}

	step(fmt.Sprintf("running %d sagas to completion through the operator", cfg.Completing))
	doneNS, err := b.completeSagas(cfg.Completing)
	if err != nil {
		return nil, err
	}
	step(fmt.Sprintf("creating %d sagas labelled finished", cfg.Finished))
	if err := b.createFinished(cfg.Finished); err != nil {
		return nil, err
	}
	if err := b.countRetired(doneNS, res); err != nil {
		return nil, err
	}
	step("settling the operator's memory")
	if res.WithFinished, err = b.settledFootprint(); err != nil {
		return nil, err
	}
	res.Ratio = res.WithFinished.RSSMiB / res.InFlightOnly.RSSMiB
	res.Pass = res.Ratio <= res.Target
	return res, nil
}

// completeSagas runs n sagas through the operator to Completed, in a
// namespace of their own, which it returns.
func (b *bench) completeSagas(n int) (string, error) {
	ns, err := b.namespace("memory-completed")
	if err != nil {
		return "", err
	}
	_, allFinal, stop, err := b.watchFinal(ns, n)
	if err != nil {
		return "", err
	}
	defer stop()
	if err := parallel(16, n, func(i int) error {
		return b.k8s.Create(b.ctx, smallSaga(ns, fmt.Sprintf("order-%05d", i), "CUST-OK"))
	}); err != nil {
		return "", fmt.Errorf("create sagas: %w", err)
	}
	if n == 0 {
		return ns, nil
	}
	select {
	case <-allFinal:
		return ns, nil
	case <-b.ctx.Done():
		return "", b.ctx.Err()
	case <-time.After(10 * time.Minute):
		return "", fmt.Errorf("sagas not final after 10 minutes")
	}
}

// createFinished creates n sagas already labelled finished, as the operator
// leaves them: no finalizer, the label. They never reach the operator: its
// cache's watch selects the sagas without the label, and the apiserver
// filters.
func (b *bench) createFinished(n int) error {
	ns, err := b.namespace("memory-finished")
	if err != nil {
		return err
	}
	var created atomic.Int64
	ctx, stop := context.WithCancel(b.ctx)
	defer stop()
	go showCount(ctx, &created, n, "%d of %d finished sagas created")
	start := time.Now()
	err = parallel(32, n, func(i int) error {
		s := smallSaga(ns, fmt.Sprintf("finished-%06d", i), "CUST-OK")
		s.Labels = map[string]string{ordersv1alpha1.FinishedLabel: "true"}
		if err := b.k8s.Create(b.ctx, s); err != nil {
			return err
		}
		created.Add(1)
		return nil
	})
	stop()
	newProgress().done("%d of %d finished sagas created in %.0f s", created.Load(), n, time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("create finished sagas: %w", err)
	}
	return nil
}

// showCount shows a count as it grows, until ctx ends.
func showCount(ctx context.Context, count *atomic.Int64, n int, format string) {
	shown := newProgress()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			shown.show(format, count.Load(), n)
		}
	}
}

// countRetired counts how the sagas run to completion left the operator's
// cache: labelled finished, deleted after their TTL, or not yet (still
// cached), read from the apiserver.
func (b *bench) countRetired(ns string, res *MemoryResult) error {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(ordersv1alpha1.GroupVersion.WithKind("OrderSagaList"))
	if err := b.k8s.List(b.ctx, list, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("list completed sagas: %w", err)
	}
	for _, s := range list.Items {
		if _, ok := s.Labels[ordersv1alpha1.FinishedLabel]; ok {
			res.CompletedLabelled++
		} else {
			res.CompletedUnlabelled++
		}
	}
	res.CompletedDeleted = res.Completed - len(list.Items)
	return nil
}

// settleTimeout bounds the wait for the operator's RSS to stop falling;
// settleInterval spaces the readings, to give the runtime time to return
// freed memory to the system in the background.
const (
	settleTimeout  = 90 * time.Second
	settleInterval = 2 * time.Second
)

// settledFootprint forces garbage collections in the operator (its pprof
// heap profile with gc=1 runs runtime.GC) and waits until its RSS stops
// falling as the runtime returns the freed memory to the system, so that two
// footprints compare what is live rather than when the collector last ran.
func (b *bench) settledFootprint() (Footprint, error) {
	tick := time.NewTicker(settleInterval)
	defer tick.Stop()
	deadline := time.After(settleTimeout)
	last := 0.0
	for settled := false; !settled; {
		if err := b.forceGC(); err != nil {
			return Footprint{}, fmt.Errorf("force the operator's GC: %w", err)
		}
		select {
		case <-tick.C:
		case <-deadline:
			fmt.Fprintf(os.Stderr, "    RSS still falling after %s: using the last reading\n", settleTimeout)
			settled = true
		case <-b.ctx.Done():
			return Footprint{}, b.ctx.Err()
		}
		rss := b.rssMiB()
		settled = settled || (last > 0 && rss >= last*0.995)
		last = rss
	}
	f, err := b.scrape()
	if err != nil {
		return Footprint{}, err
	}
	cached := 0.0
	for _, p := range []ordersv1alpha1.SagaPhase{ordersv1alpha1.PhasePending, ordersv1alpha1.PhaseRunning,
		ordersv1alpha1.PhaseCompensating, ordersv1alpha1.PhaseCompleted, ordersv1alpha1.PhaseCompensated,
		ordersv1alpha1.PhaseFailed} {
		cached += value(f, "ordersaga_sagas", map[string]string{"phase": string(p)})
	}
	fp := Footprint{RSSMiB: last, HeapMiB: value(f, "go_memstats_heap_inuse_bytes", nil) / (1 << 20), CachedSagas: int(cached)}
	fmt.Fprintf(os.Stderr, "    RSS %.1f MiB, Go heap in use %.1f MiB, %d sagas cached\n", fp.RSSMiB, fp.HeapMiB, fp.CachedSagas)
	return fp, nil
}

// forceGC makes the operator collect its garbage, through its pprof
// endpoint.
func (b *bench) forceGC() error {
	req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, b.pprofURL+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// dropFinalizers takes every finalizer off a saga no operator will finalize.
func (b *bench) dropFinalizers(s client.Object) error {
	patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
	return client.IgnoreNotFound(b.k8s.Patch(b.ctx, s, patch))
}

// clearSagas stops the operator and deletes every saga of the earlier runs,
// finalizers first (with no operator, nothing else would remove them), so
// that the memory run's operator caches only its own.
func (b *bench) clearSagas() error {
	b.stopOperator()
	b.held = 0
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(ordersv1alpha1.GroupVersion.WithKind("OrderSagaList"))
	if err := b.k8s.List(b.ctx, list); err != nil {
		return fmt.Errorf("list sagas: %w", err)
	}
	if len(list.Items) == 0 {
		return nil
	}
	step(fmt.Sprintf("deleting the %d sagas of the earlier runs", len(list.Items)))
	if err := parallel(16, len(list.Items), func(i int) error {
		if len(list.Items[i].Finalizers) == 0 {
			return nil
		}
		return b.dropFinalizers(&list.Items[i])
	}); err != nil {
		return fmt.Errorf("remove finalizers: %w", err)
	}
	namespaces := &corev1.NamespaceList{}
	if err := b.k8s.List(b.ctx, namespaces); err != nil {
		return err
	}
	for _, ns := range namespaces.Items {
		if err := b.k8s.DeleteAllOf(b.ctx, &ordersv1alpha1.OrderSaga{}, client.InNamespace(ns.Name)); err != nil {
			return fmt.Errorf("delete sagas of %s: %w", ns.Name, err)
		}
	}
	return nil
}
