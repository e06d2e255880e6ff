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

package amqpconn_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
)

// Deliveries of one key are handled in order, one at a time, while other
// keys proceed on other workers.
func TestConsumerHandlesEachKeyInOrder(t *testing.T) {
	g := NewWithT(t)
	b, ch, topo := startBroker(t)
	queue := bindQueue(t, ch, topo, "svc.*")

	var mu sync.Mutex
	seen := map[string][]int{}
	running := map[string]bool{}
	overlapped := false
	consumer := &amqpconn.Consumer{Conn: b, Queue: queue, Tag: "test", Log: testr.New(t), Workers: 4, Prefetch: 64,
		Key: func(d amqp.Delivery) string { return d.Headers["key"].(string) },
		Handle: func(_ context.Context, d amqp.Delivery) {
			key, seq := d.Headers["key"].(string), int(d.Headers["seq"].(int32))
			mu.Lock()
			overlapped = overlapped || running[key]
			running[key] = true
			mu.Unlock()
			mu.Lock()
			running[key] = false
			seen[key] = append(seen[key], seq)
			mu.Unlock()
			_ = d.Ack(false)
		}}
	go func() { _ = consumer.Start(t.Context()) }()
	g.Eventually(consumer.Consuming).Should(BeTrue())

	keys := []string{"a", "b", "c", "d", "e"}
	for seq := range 20 {
		for _, key := range keys {
			g.Expect(b.Publish(context.Background(), topo.CommandExchange(), "svc.Cmd", amqpconn.Message{
				MessageID: fmt.Sprintf("%s-%d", key, seq), Headers: map[string]any{"key": key, "seq": int32(seq)},
			})).To(Succeed())
		}
	}
	g.Eventually(func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range seen {
			n += len(s)
		}
		return n
	}).WithTimeout(10 * time.Second).Should(Equal(100))
	mu.Lock()
	defer mu.Unlock()
	g.Expect(overlapped).To(BeFalse(), "two deliveries of one key ran at once")
	for _, key := range keys {
		g.Expect(seen[key]).To(HaveLen(20))
		for i, seq := range seen[key] {
			g.Expect(seq).To(Equal(i), "key %s out of order: %v", key, seen[key])
		}
	}
}

// On stop, the consumer waits for the handler in flight, which can still
// acknowledge, and returns the deliveries not started to the queue.
func TestConsumerStopsGracefully(t *testing.T) {
	g := NewWithT(t)
	b, ch, topo := startBroker(t)
	queue := bindQueue(t, ch, topo, "svc.*")

	started, release := make(chan string, 10), make(chan struct{})
	consumer := &amqpconn.Consumer{Conn: b, Queue: queue, Tag: "test", Log: testr.New(t), Prefetch: 10,
		Handle: func(_ context.Context, d amqp.Delivery) {
			started <- d.MessageId
			<-release
			_ = d.Ack(false)
		}}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = consumer.Start(ctx) }()
	for i := range 4 {
		g.Expect(b.Publish(context.Background(), topo.CommandExchange(), "svc.Cmd",
			amqpconn.Message{MessageID: fmt.Sprintf("m-%d", i)})).To(Succeed())
	}
	g.Eventually(started).Should(Receive(Equal("m-0")))
	cancel()
	g.Consistently(stopped, 300*time.Millisecond).ShouldNot(BeClosed(), "the handler in flight is awaited")
	g.Eventually(consumer.Consuming).Should(BeFalse(), "the subscription is cancelled at once")
	close(release)
	g.Eventually(stopped).Should(BeClosed())
	g.Expect(started).NotTo(Receive(), "nothing starts once stopping")

	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(q.Messages).To(Equal(3), "the one in flight was acknowledged, the rest went back")
}
