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

package integration_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
)

var _ = Describe("The operator's topology", func() {
	It("is restored when the command exchange and then a participant's queue are deleted under load", func() {
		ns := newNamespace()
		stop := make(chan struct{})
		var load sync.WaitGroup
		var created []*ordersv1alpha1.OrderSaga
		var mu sync.Mutex
		load.Go(func() {
			defer GinkgoRecover()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond): // a saga every 100 ms while the topology is broken
				}
				s := createSaga(ns, fmt.Sprintf("order-load-%03d", i))
				mu.Lock()
				created = append(created, s)
				mu.Unlock()
			}
		})
		DeferCleanup(func() {
			select {
			case <-stop:
			default:
				close(stop)
			}
			load.Wait()
		})

		By("deleting the command exchange")
		withChannel(func(ch *amqp.Channel) {
			Expect(ch.ExchangeDelete(topology.CommandExchange(), false, false)).To(Succeed())
		})
		Eventually(func() error { return exchangeExists(topology.CommandExchange()) }).WithTimeout(10*time.Second).
			Should(Succeed(), "the operator declares the exchange again")

		By("deleting the payment service's queue")
		queue := topology.ParticipantQueue("payment")
		withChannel(func(ch *amqp.Channel) {
			_, err := ch.QueueDelete(queue, false, false, false)
			Expect(err).NotTo(HaveOccurred())
		})
		By("waiting until every queue and binding is back")
		Eventually(topologyRestored).WithTimeout(30 * time.Second).Should(Succeed())

		close(stop)
		load.Wait()
		By("a saga created once the topology is restored completes")
		waitForPhase(createSaga(ns, "order-after-restore"), ordersv1alpha1.PhaseCompleted)
		mu.Lock()
		defer mu.Unlock()
		Expect(created).NotTo(BeEmpty())
		for _, s := range created {
			done := waitForFinalPhase(s)
			Expect(done.Status.Phase).To(BeElementOf(ordersv1alpha1.PhaseCompleted, ordersv1alpha1.PhaseCompensated),
				"saga %s ends cleanly: done, or undone after its command was lost with the queue", s.Name)
		}
	})
})

// topologyRestored checks, with rabbitmqctl, that every registered
// participant's queue has a consumer again and is bound with all its keys.
func topologyRestored() error {
	out, err := rabbitmq.Ctl("list_bindings", "source_name", "routing_key", "destination_name")
	if err != nil {
		return err
	}
	list := &ordersv1alpha1.ParticipantList{}
	if err := k8sClient.List(ctx, list); err != nil {
		return err
	}
	for _, p := range list.Items {
		if p.Status.Queue != topology.ParticipantQueue(p.Name) {
			continue // registered by another test for a service it stopped
		}
		for _, c := range slices.Concat(p.Spec.Commands, p.Spec.Compensations) {
			binding := topology.CommandExchange() + "\t" + p.Name + "." + c.Name + "\t" + p.Status.Queue
			if !strings.Contains(string(out), binding) {
				return fmt.Errorf("binding %q missing", binding)
			}
		}
	}
	for _, service := range []string{"inventory", "payment", "shipping"} {
		if err := hasConsumer(topology.ParticipantQueue(service)); err != nil {
			return err
		}
	}
	return nil
}

// hasConsumer checks, on a channel of its own, that the queue exists and has
// a consumer.
func hasConsumer(queue string) error {
	conn, err := amqp.Dial(rabbitmq.BrokerURL())
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		return err
	}
	if q.Consumers == 0 {
		return fmt.Errorf("queue %s has no consumer", queue)
	}
	return nil
}

// exchangeExists checks, on a channel of its own (a missing exchange closes
// it), that the exchange exists.
func exchangeExists(name string) error {
	conn, err := amqp.Dial(rabbitmq.BrokerURL())
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	return ch.ExchangeDeclarePassive(name, amqp.ExchangeTopic, true, false, false, false, nil)
}
