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
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/controller"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// busNamespace is the one namespace the suite's operator accepts start
// messages for (operator.Options.StartNamespaces).
var busNamespace = "bus-" + rand.String(6)

// afterStartHook is what the operator runs between a start message's
// create and its reply (operator.Options.AfterSagaStarted).
var afterStartHook struct {
	mu sync.Mutex
	f  func(context.Context, controller.SagaStarted) error
}

func afterSagaStarted(ctx context.Context, s controller.SagaStarted) error {
	afterStartHook.mu.Lock()
	f := afterStartHook.f
	afterStartHook.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(ctx, s)
}

func setAfterStartHook(f func(context.Context, controller.SagaStarted) error) {
	afterStartHook.mu.Lock()
	defer afterStartHook.mu.Unlock()
	afterStartHook.f = f
}

// createFailures is how many creates of sagas in busNamespace still fail as
// if the apiserver were unavailable (operator.Options.WrapClient).
var createFailures atomic.Int32

func failingCreates(c client.Client) client.Client { return createFailer{Client: c} }

type createFailer struct{ client.Client }

func (c createFailer) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if obj.GetNamespace() == busNamespace && createFailures.Add(-1) >= 0 {
		return apierrors.NewServiceUnavailable("injected by the test")
	}
	return c.Client.Create(ctx, obj, opts...)
}

// ensureBusNamespace creates busNamespace and its checkout template once.
var ensureBusNamespace = sync.OnceFunc(func() {
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: busNamespace}})).To(Succeed())
	createCheckoutTemplate(busNamespace)
})

func createCheckoutTemplate(namespace string) {
	steps := fixtures.NewSaga(namespace, "x").Spec.Steps
	for i := range steps {
		steps[i].Timeout = "5s"
	}
	Expect(k8sClient.Create(ctx, &ordersv1alpha1.SagaTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "checkout"},
		Spec:       ordersv1alpha1.SagaTemplateSpec{Steps: steps},
	})).To(Succeed())
}

// orderService is an order service on the bus: it sends start messages and
// queries and collects the replies on a server-named exclusive queue.
type orderService struct {
	ch      *amqp.Channel
	replyTo string
	mu      sync.Mutex
	replies map[string][][]byte // correlation id → bodies
}

func newOrderService() *orderService {
	conn, err := amqp.Dial(rabbitmq.BrokerURL())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	Expect(err).NotTo(HaveOccurred())
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	Expect(err).NotTo(HaveOccurred())
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	Expect(err).NotTo(HaveOccurred())
	s := &orderService{ch: ch, replyTo: q.Name, replies: map[string][][]byte{}}
	go func() {
		for d := range deliveries {
			s.mu.Lock()
			s.replies[d.CorrelationId] = append(s.replies[d.CorrelationId], d.Body)
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *orderService) send(queue, messageID string, body []byte, replyTo string) {
	Expect(s.ch.PublishWithContext(ctx, "", queue, true, false, amqp.Publishing{
		MessageId: messageID, ReplyTo: replyTo, ContentType: protocol.ContentType, Body: body, DeliveryMode: amqp.Persistent,
	})).To(Succeed())
}

func (s *orderService) start(messageID string, body []byte) {
	s.send(topology.StartQueue(), messageID, body, s.replyTo)
}

func (s *orderService) query(messageID string, q protocol.QueryRequest) {
	s.send(topology.QueryQueue(), messageID, mustMarshal(q), s.replyTo)
}

func (s *orderService) count(correlationID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.replies[correlationID])
}

// reply waits for the n-th reply (from 1) to correlationID and decodes it
// into v.
func (s *orderService) reply(correlationID string, n int, v any) {
	EventuallyWithOffset(1, func() int { return s.count(correlationID) }).Should(BeNumerically(">=", n))
	s.mu.Lock()
	body := s.replies[correlationID][n-1]
	s.mu.Unlock()
	ExpectWithOffset(1, json.Unmarshal(body, v)).To(Succeed())
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return b
}

func startBody(namespace, orderID string) []byte {
	o := fixtures.NewSaga(namespace, "x").Spec.Order
	items := make([]protocol.LineItem, len(o.Items))
	for i, it := range o.Items {
		items[i] = protocol.LineItem{SKU: it.SKU, Quantity: it.Quantity, UnitPrice: it.UnitPrice}
	}
	return mustMarshal(protocol.StartRequest{Template: "checkout", Namespace: namespace, Order: protocol.Order{
		ID: orderID, Customer: protocol.Customer{ID: o.Customer.ID}, Items: items,
		Total: protocol.Money{Amount: o.Total.Amount, Currency: o.Total.Currency},
	}})
}

// sagasOfOrder lists the sagas of namespace that carry orderID, live.
func sagasOfOrder(namespace, orderID string) []ordersv1alpha1.OrderSaga {
	list := &ordersv1alpha1.OrderSagaList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(namespace))).To(Succeed())
	var out []ordersv1alpha1.OrderSaga
	for _, s := range list.Items {
		if s.Spec.Order.ID == orderID {
			out = append(out, s)
		}
	}
	return out
}

// startDeadLetters holds what reached the start dead-letter queue: message
// id → reason header.
var startDeadLetters = struct {
	mu      sync.Mutex
	reasons map[string]string
}{reasons: map[string]string{}}

// startDeadLetterReason waits for messageID in the start dead-letter queue.
func startDeadLetterReason(ch *amqp.Channel, messageID string) string {
	var reason string
	EventuallyWithOffset(1, func() bool {
		drainStartDeadLetters(ch)
		startDeadLetters.mu.Lock()
		defer startDeadLetters.mu.Unlock()
		reason = startDeadLetters.reasons[messageID]
		return reason != ""
	}).Should(BeTrue())
	return reason
}

// drainStartDeadLetters records what the start dead-letter queue holds.
func drainStartDeadLetters(ch *amqp.Channel) {
	startDeadLetters.mu.Lock()
	defer startDeadLetters.mu.Unlock()
	for {
		d, ok, err := ch.Get(topology.StartDeadLetterQueue(), true)
		if err != nil || !ok {
			return
		}
		r, _ := d.Headers[protocol.HeaderDeadLetterReason].(string)
		startDeadLetters.reasons[d.MessageId] = r
	}
}

var _ = Describe("Sagas started by a message", func() {
	var orders *orderService
	BeforeEach(func() {
		ensureBusNamespace()
		orders = newOrderService()
	})

	It("creates one saga for a start message delivered three times, and replies to each", func() {
		orderID := "ORD-" + rand.String(6)
		body := startBody(busNamespace, orderID)
		for range 3 {
			orders.start("start-"+orderID, body)
		}
		var first protocol.StartReply
		orders.reply("start-"+orderID, 1, &first)
		Expect(first.Error).To(BeNil())
		Expect(first.Namespace).To(Equal(busNamespace))
		Expect(first.Name).To(Equal(protocol.StartedSagaName("checkout", orderID)))
		for n := 2; n <= 3; n++ {
			var again protocol.StartReply
			orders.reply("start-"+orderID, n, &again)
			Expect(again).To(Equal(first))
		}
		sagas := sagasOfOrder(busNamespace, orderID)
		Expect(sagas).To(HaveLen(1))
		Expect(string(sagas[0].UID)).To(Equal(first.UID))
		Expect(sagas[0].Labels).To(HaveKeyWithValue(ordersv1alpha1.StartedByLabel, ordersv1alpha1.StartedByBus))
		done := waitForFinalPhase(&sagas[0])
		Expect(done.Status.Phase).To(Equal(ordersv1alpha1.PhaseCompleted))
		Expect(done.Status.Template).NotTo(BeNil())
	})

	It("replies once the operator restarts when it crashed between creating the saga and replying", func() {
		orderID := "ORD-" + rand.String(6)
		created := make(chan controller.SagaStarted, 1)
		setAfterStartHook(func(hctx context.Context, s controller.SagaStarted) error {
			select {
			case created <- s:
			default:
			}
			<-hctx.Done() // the crash: the operator stops before it replies
			return hctx.Err()
		})
		DeferCleanup(func() { setAfterStartHook(nil) })
		orders.start("start-"+orderID, startBody(busNamespace, orderID))
		var started controller.SagaStarted
		Eventually(created).Should(Receive(&started))
		Expect(started.Created).To(BeTrue())
		Expect(orders.count("start-" + orderID)).To(BeZero())

		running.stop()
		setAfterStartHook(nil)
		running = startOperator()

		var reply protocol.StartReply
		orders.reply("start-"+orderID, 1, &reply)
		Expect(reply.Error).To(BeNil())
		Expect(reply.Name).To(Equal(started.Key.Name))
		Expect(reply.UID).To(Equal(string(started.UID)))
		sagas := sagasOfOrder(busNamespace, orderID)
		Expect(sagas).To(HaveLen(1))
		Expect(sagas[0].UID).To(Equal(started.UID))
	})

	It("holds a start message while the apiserver fails, and starts the saga once it answers", func() {
		orderID := "ORD-" + rand.String(6)
		createFailures.Store(3)
		DeferCleanup(func() { createFailures.Store(0) })
		orders.start("start-"+orderID, startBody(busNamespace, orderID))
		var reply protocol.StartReply
		orders.reply("start-"+orderID, 1, &reply)
		Expect(reply.Error).To(BeNil())
		Expect(createFailures.Load()).To(BeNumerically("<", 0), "every injected failure was met")
		Expect(sagasOfOrder(busNamespace, orderID)).To(HaveLen(1))
		Expect(orders.count("start-" + orderID)).To(Equal(1))
		drainStartDeadLetters(testChannel())
		startDeadLetters.mu.Lock()
		_, dead := startDeadLetters.reasons["start-"+orderID]
		startDeadLetters.mu.Unlock()
		Expect(dead).To(BeFalse(), "a transient failure is not a refusal")
	})

	It("refuses bad start messages: nothing created, a failure reply, dead-lettered with the reason", func() {
		other := newNamespace() // not accepted for bus starts
		createCheckoutTemplate(other)
		ch := testChannel()
		id := rand.String(6)
		badOrder := func(orderID string) []byte {
			var req protocol.StartRequest
			Expect(json.Unmarshal(startBody(busNamespace, orderID), &req)).To(Succeed())
			req.Order.Items[0].Quantity = 0
			return mustMarshal(req)
		}
		cases := []struct {
			name, namespace, orderID string
			body                     []byte
			reason                   string
		}{
			{"undecodable", busNamespace, "", []byte(`{"template":`), protocol.RefuseMalformed},
			{"unknown template", busNamespace, "ORD-unknown-" + id,
				[]byte(`{"template":"nope","namespace":"` + busNamespace + `","order":{"id":"ORD-unknown-` + id + `"}}`),
				protocol.RefuseUnknownTemplate},
			{"invalid order", busNamespace, "ORD-invalid-" + id, badOrder("ORD-invalid-" + id), protocol.RefuseInvalidOrder},
			{"namespace not accepted", other, "ORD-other-" + id, startBody(other, "ORD-other-"+id), protocol.RefuseNamespaceNotAccepted},
			{"no template", busNamespace, "ORD-notpl-" + id,
				[]byte(`{"namespace":"` + busNamespace + `","order":{"id":"ORD-notpl-` + id + `"}}`), protocol.RefuseInvalid},
			{"no namespace", "", "", []byte(`{"template":"checkout","order":{"id":"ORD-nons-` + id + `"}}`), protocol.RefuseInvalid},
		}
		for i, c := range cases {
			By(c.name)
			msgID := fmt.Sprintf("bad-%s-%d", id, i)
			orders.start(msgID, c.body)
			var reply protocol.StartReply
			orders.reply(msgID, 1, &reply)
			Expect(reply.Error).NotTo(BeNil())
			Expect(reply.Error.Reason).To(Equal(c.reason))
			Expect(reply.Name).To(BeEmpty())
			Expect(startDeadLetterReason(ch, msgID)).To(Equal(c.reason))
			if c.orderID != "" {
				Expect(sagasOfOrder(c.namespace, c.orderID)).To(BeEmpty())
				err := k8sClient.Get(ctx, client.ObjectKey{Namespace: c.namespace, Name: protocol.StartedSagaName("checkout", c.orderID)},
					&ordersv1alpha1.OrderSaga{})
				Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%v", err)
			}
		}

		By("a good message after them")
		orderID := "ORD-good-" + id
		orders.start("good-"+id, startBody(busNamespace, orderID))
		var reply protocol.StartReply
		orders.reply("good-"+id, 1, &reply)
		Expect(reply.Error).To(BeNil())
		Expect(sagasOfOrder(busNamespace, orderID)).To(HaveLen(1))
	})
})

var _ = Describe("Queries on the bus", func() {
	It("answers by name and by order id, and says when there is no such saga", func() {
		ensureBusNamespace()
		orders := newOrderService()
		orderID := "ORD-" + rand.String(6)
		orders.start("start-"+orderID, startBody(busNamespace, orderID))
		var started protocol.StartReply
		orders.reply("start-"+orderID, 1, &started)
		Expect(started.Error).To(BeNil())
		waitForFinalPhase(&ordersv1alpha1.OrderSaga{ObjectMeta: metav1.ObjectMeta{Namespace: started.Namespace, Name: started.Name}})

		check := func(s *protocol.SagaSummary) {
			GinkgoHelper()
			Expect(s).NotTo(BeNil())
			Expect(s.Name).To(Equal(started.Name))
			Expect(s.UID).To(Equal(started.UID))
			Expect(s.OrderID).To(Equal(orderID))
			Expect(s.Phase).To(Equal(string(ordersv1alpha1.PhaseCompleted)))
			Expect(s.Template).To(Equal("checkout"))
			Expect(s.TemplateGeneration).To(Equal(int64(1)))
			Expect(s.Conditions).NotTo(BeEmpty())
			Expect(s.Steps).To(HaveLen(3))
			for _, st := range s.Steps {
				Expect(st.State).To(Equal(string(ordersv1alpha1.StepSucceeded)))
			}
		}
		By("by name, once the operator's cache, which answers, has the saga's end")
		asked := 0
		var byName protocol.QueryReply
		Eventually(func() string {
			asked++
			id := fmt.Sprintf("q-name-%s-%d", orderID, asked)
			orders.query(id, protocol.QueryRequest{Namespace: busNamespace, Name: started.Name})
			byName = protocol.QueryReply{}
			orders.reply(id, 1, &byName)
			if byName.Saga == nil {
				return ""
			}
			return byName.Saga.Phase
		}).Should(Equal(string(ordersv1alpha1.PhaseCompleted)))
		Expect(byName.Error).To(BeNil())
		check(byName.Saga)

		By("by order id, in every namespace")
		orders.query("q-order-"+orderID, protocol.QueryRequest{OrderID: orderID})
		var byOrder protocol.QueryReply
		orders.reply("q-order-"+orderID, 1, &byOrder)
		Expect(byOrder.Error).To(BeNil())
		check(byOrder.Saga)

		By("a saga that does not exist")
		orders.query("q-missing-"+orderID, protocol.QueryRequest{Namespace: busNamespace, OrderID: "ORD-missing"})
		var missing protocol.QueryReply
		orders.reply("q-missing-"+orderID, 1, &missing)
		Expect(missing.Saga).To(BeNil())
		Expect(missing.Error).NotTo(BeNil())
		Expect(missing.Error.Reason).To(Equal(protocol.RefuseSagaNotFound))

		By("a query without reply_to: dead-lettered")
		ch := testChannel()
		orders.send(topology.QueryQueue(), "q-noreply-"+orderID, mustMarshal(protocol.QueryRequest{OrderID: orderID}), "")
		Eventually(func() string {
			d, ok, err := ch.Get(topology.QueryDeadLetterQueue(), true)
			if err != nil || !ok || d.MessageId != "q-noreply-"+orderID {
				return ""
			}
			r, _ := d.Headers[protocol.HeaderDeadLetterReason].(string)
			return r
		}).Should(Equal(protocol.RefuseNoReplyTo))
	})
})
