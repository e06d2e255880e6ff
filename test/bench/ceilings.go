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
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
)

const (
	ceilingObjects  = 400
	ceilingDuration = 10 * time.Second
	ceilingQueue    = "ordersaga-bench-ceiling"
)

// Ceiling is what the apiserver allows with nothing else running, at one
// concurrency.
type Ceiling struct {
	Writers          int     `json:"writers"`
	CreatesPerSecond float64 `json:"createsPerSecond"`
	WritesPerSecond  float64 `json:"statusWritesPerSecond"`
	// Conflicts is how many status writes failed their optimistic lock and
	// were retried after a fresh read (not counted as writes).
	Conflicts int `json:"conflicts"`
}

// apiserverCeiling measures the raw write rate of the apiserver on this
// machine, with no operator running: creates of small OrderSagas, then
// status patches with optimistic locking (what the operator does for every
// step transition), both with the given number of writers.
func (b *bench) apiserverCeiling(writers int) (Ceiling, error) {
	res := Ceiling{Writers: writers}
	ns, err := b.namespace(fmt.Sprintf("ceiling-%d", writers))
	if err != nil {
		return res, err
	}
	objs := make([]*ordersv1alpha1.OrderSaga, ceilingObjects)
	start := time.Now()
	if err := parallel(writers, ceilingObjects, func(i int) error {
		objs[i] = smallSaga(ns, fmt.Sprintf("ceiling-%04d", i), "CUST-OK")
		return b.k8s.Create(b.ctx, objs[i])
	}); err != nil {
		return res, fmt.Errorf("create: %w", err)
	}
	res.CreatesPerSecond = float64(ceilingObjects) / time.Since(start).Seconds()

	var done, conflicts atomic.Int64
	// Writers stop between requests at the deadline: a request cut short
	// would count for nothing and make client-go complain.
	deadline := time.Now().Add(ceilingDuration)
	start = time.Now()
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for w := range min(writers, ceilingObjects) {
		// Each writer patches objects of its own (w, w+writers, …), as the
		// operator's workers each own a saga: writers that shared an object
		// would fail each other's optimistic lock.
		var mine []*ordersv1alpha1.OrderSaga
		for i := w; i < ceilingObjects; i += writers {
			mine = append(mine, objs[i])
		}
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				obj := mine[i%len(mine)]
				base := obj.DeepCopy()
				obj.Status.CurrentStep = fmt.Sprintf("write-%d", i)
				err := b.k8s.Status().Patch(b.ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
				if apierrors.IsConflict(err) {
					conflicts.Add(1)
					err = b.k8s.Get(b.ctx, client.ObjectKeyFromObject(obj), obj)
				} else if err == nil {
					done.Add(1)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return res, fmt.Errorf("status patch: %w", firstErr)
	}
	res.WritesPerSecond = float64(done.Load()) / time.Since(start).Seconds()
	res.Conflicts = int(conflicts.Load())
	return res, b.removeUnreconciled(objs)
}

// removeUnreconciled deletes sagas no operator has seen, and takes off
// the finalizer the admission policy gave them: else the next operator
// would finalize them during its measured run.
func (b *bench) removeUnreconciled(objs []*ordersv1alpha1.OrderSaga) error {
	return parallel(16, len(objs), func(i int) error {
		if err := b.dropFinalizers(objs[i]); err != nil {
			return err
		}
		return client.IgnoreNotFound(b.k8s.Delete(b.ctx, objs[i]))
	})
}

// sagaFloor is the F: the sagas/s the apiserver allows for a
// three-step saga with nothing written but its create and its four status
// writes, each at the best rate any concurrency reached.
func sagaFloor(ceilings []Ceiling) (floor, creates, writes float64) {
	for _, c := range ceilings {
		creates, writes = max(creates, c.CreatesPerSecond), max(writes, c.WritesPerSecond)
	}
	if creates == 0 || writes == 0 {
		return 0, creates, writes
	}
	return 1 / (1/creates + 4/writes), creates, writes
}

// brokerCeiling measures raw round trips through the broker: a persistent
// message published with a confirm to a queue, taken by a responder that
// replies at once, and the reply received; at the given concurrency for the
// given time. It returns the round trips per second and their latencies.
func (b *bench) brokerCeiling(concurrency int, d time.Duration) (float64, Percentiles, error) {
	conn, err := amqp.Dial(rabbitmq.BrokerURL())
	if err != nil {
		return 0, Percentiles{}, err
	}
	defer func() { _ = conn.Close() }()
	setup, err := conn.Channel()
	if err != nil {
		return 0, Percentiles{}, err
	}
	if _, err := setup.QueueDeclare(ceilingQueue, true, false, false, false, nil); err != nil {
		return 0, Percentiles{}, err
	}
	replies, err := setup.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		return 0, Percentiles{}, err
	}
	// The responder.
	respCh, _ := conn.Channel()
	_ = respCh.Qos(64, 0, false)
	commands, err := respCh.Consume(ceilingQueue, "", false, false, false, false, nil)
	if err != nil {
		return 0, Percentiles{}, err
	}
	go func() {
		for d := range commands {
			_ = respCh.Publish("", d.ReplyTo, false, false, amqp.Publishing{CorrelationId: d.MessageId,
				DeliveryMode: amqp.Persistent, Body: d.Body})
			_ = d.Ack(false)
		}
	}()
	// Replies, dispatched to their waiters.
	var waiters sync.Map
	replyCh, _ := conn.Channel()
	replyDeliveries, err := replyCh.Consume(replies.Name, "", true, false, false, false, nil)
	if err != nil {
		return 0, Percentiles{}, err
	}
	go func() {
		for d := range replyDeliveries {
			if w, ok := waiters.LoadAndDelete(d.CorrelationId); ok {
				close(w.(chan struct{}))
			}
		}
	}()

	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	var trips atomic.Int64
	var mu sync.Mutex
	var latencies []float64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		wg.Go(func() {
			ch, err := conn.Channel()
			if err != nil {
				return
			}
			_ = ch.Confirm(false)
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("%d-%d", w, i)
				done := make(chan struct{})
				waiters.Store(id, done)
				sent := time.Now()
				dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", ceilingQueue, true, false, amqp.Publishing{
					MessageId: id, ReplyTo: replies.Name, DeliveryMode: amqp.Persistent, Body: []byte(`{"status":"succeeded"}`)})
				if err != nil {
					return
				}
				if ok, err := dc.WaitContext(ctx); err != nil || !ok {
					return
				}
				select {
				case <-done:
					trips.Add(1)
					mu.Lock()
					latencies = append(latencies, time.Since(sent).Seconds())
					mu.Unlock()
				case <-ctx.Done():
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(trips.Load()) / time.Since(start).Seconds(), percentiles(latencies), nil
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(workers, n int, f func(i int) error) error {
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
