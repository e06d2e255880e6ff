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

package sharding_test

import (
	"fmt"
	"maps"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
)

// sagasPerShard is how many sagas each shard runs; the last compensates.
const sagasPerShard = 5

var _ = Describe("Two shards with disjoint namespaces", func() {
	It("run each its own namespace's sagas to their end, and no saga is touched by both", func() {
		created := map[*shard][]*ordersv1alpha1.OrderSaga{}
		for _, s := range []*shard{shardA, shardB} {
			for i := range sagasPerShard {
				name := fmt.Sprintf("order-%d", i)
				if i == sagasPerShard-1 {
					name += "-compensate"
				}
				saga := fixtures.NewSaga(s.namespace, name)
				for j := range saga.Spec.Steps {
					saga.Spec.Steps[j].Timeout = "10s"
				}
				Expect(k8sClient.Create(ctx, saga)).To(Succeed())
				created[s] = append(created[s], saga)
			}
		}

		By("every saga reaching its final phase")
		for _, s := range []*shard{shardA, shardB} {
			for i, saga := range created[s] {
				want := ordersv1alpha1.PhaseCompleted
				if i == sagasPerShard-1 {
					want = ordersv1alpha1.PhaseCompensated
				}
				Eventually(func(g Gomega) {
					got := &ordersv1alpha1.OrderSaga{}
					g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(saga), got)).To(Succeed())
					g.Expect(got.Status.Phase).To(Equal(want), "saga %s/%s, steps %+v", got.Namespace, got.Name, got.Status.Steps)
				}).WithTimeout(2 * time.Minute).Should(Succeed())
			}
		}

		By("every saga's fields managed by its creator and its own shard only")
		for _, s := range []*shard{shardA, shardB} {
			for _, saga := range created[s] {
				got := &ordersv1alpha1.OrderSaga{}
				Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(saga), got)).To(Succeed())
				managers := map[string]bool{}
				for _, f := range got.ManagedFields {
					managers[f.Manager] = true
				}
				Expect(slices.Sorted(maps.Keys(managers))).To(ConsistOf(creator, s.fieldOwner),
					"saga %s/%s: %+v", got.Namespace, got.Name, got.ManagedFields)
			}
		}

		By("each shard's status writes naming its own namespace's sagas only, every one of them")
		for _, s := range []*shard{shardA, shardB} {
			written := s.writes.written()
			for key := range written {
				Expect(key.Namespace).To(Equal(s.namespace), "shard %s wrote saga %s", s.name, key)
			}
			for _, saga := range created[s] {
				Expect(written).To(HaveKey(client.ObjectKeyFromObject(saga)), "shard %s never wrote its saga", s.name)
			}
		}

		By("every command of a shard's saga asking for replies on that shard's reply queue")
		for _, p := range participants {
			for _, r := range p.Received() {
				owner := shardA
				if r.Command.Saga.Namespace == shardB.namespace {
					owner = shardB
				}
				Expect(r.Delivery.ReplyTo).To(Equal(owner.topology.ReplyQueue()),
					"%s of saga %s/%s", r.Command.Name, r.Command.Saga.Namespace, r.Command.Saga.Name)
			}
		}

		By("no reply dead-lettered by either shard (an unmatched reply would be)")
		conn, err := amqp.Dial(rabbitmq.BrokerURL())
		Expect(err).NotTo(HaveOccurred())
		defer func() { _ = conn.Close() }()
		ch, err := conn.Channel()
		Expect(err).NotTo(HaveOccurred())
		for _, s := range []*shard{shardA, shardB} {
			q, err := ch.QueueDeclarePassive(s.topology.DeadLetterQueue(), true, false, false, false, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(q.Messages).To(BeZero(), "dead-lettered replies of shard %s", s.name)
		}
	})

	It("leaves the Participants' status to the one shard that manages them", func() {
		for _, service := range []string{"inventory", "payment", "shipping"} {
			got := &ordersv1alpha1.Participant{}
			Expect(k8sClient.Get(ctx, types.NamespacedName{Name: service}, got)).To(Succeed())
			managers := map[string]bool{}
			for _, f := range got.ManagedFields {
				managers[f.Manager] = true
			}
			Expect(managers).To(HaveKey(shardA.fieldOwner), "participant %s: %+v", service, got.ManagedFields)
			Expect(managers).NotTo(HaveKey(shardB.fieldOwner), "participant %s: %+v", service, got.ManagedFields)
		}
	})
})
