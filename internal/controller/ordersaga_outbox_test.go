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
	"encoding/json"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func eventTypes(msgs []sentMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Message.Type
	}
	return out
}

// completeSaga runs s to Completed, every step succeeding.
func (h *harness) completeSaga(t *testing.T, s *ordersv1alpha1.OrderSaga) {
	t.Helper()
	h.reconcile(t, keyOf(s))
	for i := range s.Spec.Steps {
		h.reply(t, h.publisher.messages()[i], protocol.StatusSucceeded, &fakeAcknowledger{}, uint64(i+1)) //nolint:gosec // small
		h.reconcile(t, keyOf(s))
	}
}

func TestLifecycleEventsGoOutAfterTheStatusThatRecordsThem(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-events")
	h := newHarness(t, nil, s)

	h.reconcile(t, keyOf(s))

	events := h.publisher.events()
	g.Expect(eventTypes(events)).To(Equal([]string{"SagaStarted"}), "a command sent is history, not an event")
	got := h.get(t, keyOf(s))
	g.Expect(events[0].RoutingKey).To(Equal("shop.-.SagaStarted"))
	g.Expect(events[0].Message.MessageID).To(Equal(protocol.EventID(string(s.UID), 1)))
	var body protocol.Event
	g.Expect(json.Unmarshal(events[0].Message.Body, &body)).To(Succeed())
	g.Expect(body).To(MatchFields(IgnoreExtras, Fields{
		"Type": Equal(protocol.EventSagaStarted), "Seq": Equal(int32(1)), "OrderID": Equal("ORD-order-events"),
		"Phase": Equal("Running"), "Saga": Equal(protocol.SagaRef{Namespace: "shop", Name: "order-events", UID: string(s.UID)}),
	}))
	g.Expect(got.Status.History[0].Seq).To(Equal(int32(1)), "the entry was written before its event left")
	g.Expect(got.Status.PublishedThrough).To(BeZero(), "recorded by the next write that happens anyway")

	h.reply(t, h.publisher.messages()[0], protocol.StatusSucceeded, &fakeAcknowledger{}, 1)
	h.reconcile(t, keyOf(s))

	g.Expect(eventTypes(h.publisher.events())).To(Equal([]string{"SagaStarted", "StepSucceeded"}))
	g.Expect(h.get(t, keyOf(s)).Status.PublishedThrough).To(Equal(int32(2)), "the first pass's entries, published before this write")
}

func TestLifecycleEventsAFailedPublishLeftAreSentByALaterPassInOrder(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-outbox")
	h := newHarness(t, nil, s)
	h.publisher.errFor = func(key string) error {
		if key == "shop.-.SagaStarted" {
			return errors.New("broker away")
		}
		return nil
	}

	res := h.reconcile(t, keyOf(s))

	g.Expect(h.publisher.events()).To(BeEmpty())
	g.Expect(h.publisher.messages()).To(HaveLen(1), "the saga goes on; its event waits in the outbox")
	g.Expect(res.RequeueAfter).To(BeNumerically("<=", h.r.BrokerRetryInterval+10*time.Millisecond))

	h.publisher.errFor = nil
	h.reply(t, h.publisher.messages()[0], protocol.StatusSucceeded, &fakeAcknowledger{}, 1)
	h.reconcile(t, keyOf(s))

	g.Expect(eventTypes(h.publisher.events())).To(Equal([]string{"SagaStarted", "StepSucceeded"}), "never out of order")
}

func TestLifecycleEventsPublishedButNotRecordedAreSentAgainWithTheSameIDs(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-crash")
	h := newHarness(t, nil, s)
	h.reconcile(t, keyOf(s))
	first := h.publisher.events()

	h.r.events = newEventLedger() // the process died before a write recorded it
	h.reconcile(t, keyOf(s))

	again := h.publisher.events()
	g.Expect(again).To(HaveLen(2))
	g.Expect(again[1].Message.MessageID).To(Equal(first[0].Message.MessageID), "consumers dedupe by message id")
	g.Expect(again[1].Message.Body).To(Equal(first[0].Message.Body))
}

func TestAFinishedSagaRetiresOnceItsEventsAreOut(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-retire")
	h := newHarness(t, nil, s)
	h.r.DefaultTTLSecondsAfterFinished = ptr.To[int32](3600)

	h.completeSaga(t, s)

	got := h.get(t, keyOf(s))
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhaseCompleted))
	g.Expect(eventTypes(h.publisher.events())).To(Equal([]string{
		"SagaStarted", "StepSucceeded", "StepSucceeded", "StepSucceeded", "SagaCompleted"}))
	g.Expect(got.Labels).To(HaveKeyWithValue(ordersv1alpha1.FinishedLabel, "true"))
	g.Expect(got.Finalizers).NotTo(ContainElement(ordersv1alpha1.Finalizer), "nothing is left to undo")
	g.Expect(got.Annotations).To(HaveKeyWithValue(ordersv1alpha1.ExpiresAnnotation,
		got.Status.CompletionTime.Add(time.Hour).UTC().Format(time.RFC3339)))
}

func TestAFinishedSagaWhoseEventsAreNotOutStays(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-stays")
	h := newHarness(t, nil, s)
	h.publisher.errFor = func(key string) error {
		if key == "shop.-.SagaCompleted" {
			return errors.New("broker away")
		}
		return nil
	}

	h.completeSaga(t, s)

	got := h.get(t, keyOf(s))
	g.Expect(got.Status.Phase).To(Equal(ordersv1alpha1.PhaseCompleted))
	g.Expect(got.Labels).NotTo(HaveKey(ordersv1alpha1.FinishedLabel), "its final event is still to go")
	g.Expect(got.Finalizers).To(ContainElement(ordersv1alpha1.Finalizer))

	h.publisher.errFor = nil
	h.reconcile(t, keyOf(s))

	g.Expect(h.get(t, keyOf(s)).Labels).To(HaveKey(ordersv1alpha1.FinishedLabel))
	g.Expect(eventTypes(h.publisher.events())).To(HaveLen(5))
}

func TestAFinishedSagaThatExpiresSoonIsDeletedByItsOwnPass(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-ttl", func(s *ordersv1alpha1.OrderSaga) { s.Spec.TTLSecondsAfterFinished = ptr.To[int32](10) })
	h := newHarness(t, nil, s)
	h.completeSaga(t, s)

	res := h.reconcile(t, keyOf(s))

	g.Expect(h.get(t, keyOf(s)).Labels).NotTo(HaveKey(ordersv1alpha1.FinishedLabel), "it stays in the cache until it expires")
	g.Expect(res.RequeueAfter).To(BeNumerically("~", 10*time.Second, 10*time.Millisecond))

	h.clock.SetTime(t0.Add(10 * time.Second))
	h.reconcile(t, keyOf(s)) // deletes; the finalizer holds it
	h.reconcile(t, keyOf(s)) // releases

	err := h.api.Get(context.Background(), keyOf(s), &ordersv1alpha1.OrderSaga{})
	g.Expect(err).To(MatchError(ContainSubstring("not found")))
}

func TestALateReplyToARetiredSagaIsSettledAgainstTheLiveSaga(t *testing.T) {
	g := NewWithT(t)
	s := newSaga("order-late")
	retiredOut := false
	h := newHarness(t, func(client.WithWatch) interceptor.Funcs {
		return interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if retiredOut && key == keyOf(s) {
				return apiNotFound(key) // the cache selects unfinished sagas only
			}
			return c.Get(ctx, key, obj, opts...)
		}}
	}, s)
	h.completeSaga(t, s)
	g.Expect(h.get(t, keyOf(s)).Labels).To(HaveKey(ordersv1alpha1.FinishedLabel))
	retiredOut = true

	ack := &fakeAcknowledger{}
	h.reply(t, h.publisher.messages()[2], protocol.StatusSucceeded, ack, 9) // delivered again
	h.reconcile(t, keyOf(s))

	g.Expect(ack.acked).To(Equal([]uint64{9}), "a duplicate of a recorded reply is acknowledged")
	g.Expect(h.publisher.events()).To(HaveLen(5), "its events went out before it retired: none again")
	g.Expect(h.r.Inbox.Peek(keyOf(s))).To(BeEmpty())
	g.Expect(h.get(t, keyOf(s)).Finalizers).To(BeEmpty(), "a retired saga gets no finalizer back")
}

func TestRetentionSweeperDeletesExpiredSagasOnly(t *testing.T) {
	g := NewWithT(t)
	finished := func(name, expires string) *ordersv1alpha1.OrderSaga {
		return newSaga(name, func(s *ordersv1alpha1.OrderSaga) {
			s.Labels = map[string]string{ordersv1alpha1.FinishedLabel: "true"}
			if expires != "" {
				s.Annotations = map[string]string{ordersv1alpha1.ExpiresAnnotation: expires}
			}
		})
	}
	past, future := t0.Add(-time.Second).Format(time.RFC3339), t0.Add(time.Hour).Format(time.RFC3339)
	unlabelled := newSaga("running", func(s *ordersv1alpha1.OrderSaga) {
		s.Annotations = map[string]string{ordersv1alpha1.ExpiresAnnotation: past}
	})
	h := newHarness(t, nil, finished("expired", past), finished("later", future), finished("kept", ""), unlabelled)
	sweeper := &RetentionSweeper{Reader: h.api, Writer: h.api, Clock: h.clock, Interval: time.Minute}

	deleted, err := sweeper.Sweep(context.Background())

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(deleted).To(Equal(1))
	list := &ordersv1alpha1.OrderSagaList{}
	g.Expect(h.api.List(context.Background(), list)).To(Succeed())
	names := make([]string, 0, len(list.Items))
	for _, s := range list.Items {
		names = append(names, s.Name)
	}
	g.Expect(names).To(ConsistOf("later", "kept", "running"))
}

// A shard's sweeper deletes the expired sagas of its own namespaces only.
func TestRetentionSweeperStaysInTheShardsNamespaces(t *testing.T) {
	g := NewWithT(t)
	past := t0.Add(-time.Second).Format(time.RFC3339)
	expired := func(namespace, name string) *ordersv1alpha1.OrderSaga {
		return newSaga(name, func(s *ordersv1alpha1.OrderSaga) {
			s.Namespace = namespace
			s.Labels = map[string]string{ordersv1alpha1.FinishedLabel: "true"}
			s.Annotations = map[string]string{ordersv1alpha1.ExpiresAnnotation: past}
		})
	}
	h := newHarness(t, nil, expired(testNamespace, "mine"), expired("other-shard", "theirs"))
	sweeper := &RetentionSweeper{Reader: h.api, Writer: h.api, Clock: h.clock, Interval: time.Minute, Namespaces: []string{testNamespace}}

	deleted, err := sweeper.Sweep(context.Background())

	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(deleted).To(Equal(1))
	list := &ordersv1alpha1.OrderSagaList{}
	g.Expect(h.api.List(context.Background(), list)).To(Succeed())
	g.Expect(list.Items).To(HaveLen(1))
	g.Expect(list.Items[0].Namespace).To(Equal("other-shard"))
}
