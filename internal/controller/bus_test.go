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
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	amqp "github.com/rabbitmq/amqp091-go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func startRequest(orderID string) protocol.StartRequest {
	return protocol.StartRequest{Template: "checkout", Namespace: testNamespace, Order: protocol.Order{
		ID: orderID, Customer: protocol.Customer{ID: "C-1"},
		Items: []protocol.LineItem{{SKU: "A", Quantity: 1, UnitPrice: "1.00"}}, Total: protocol.Money{Amount: "1.00", Currency: "EUR"},
	}}
}

func checkoutTemplate() *ordersv1alpha1.SagaTemplate {
	return &ordersv1alpha1.SagaTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "checkout"},
		Spec:       ordersv1alpha1.SagaTemplateSpec{Steps: fixtures.NewSaga(testNamespace, "x").Spec.Steps},
	}
}

func TestStartSaga(t *testing.T) {
	sagaKind := schema.GroupKind{Group: ordersv1alpha1.GroupVersion.Group, Kind: "OrderSaga"}
	taken := fixtures.NewSaga(testNamespace, protocol.StartedSagaName("checkout", "ORD-2"))
	taken.Spec.Order.ID = "ORD-other"
	tests := []struct {
		name       string
		namespaces []string
		objs       []client.Object
		create     func() error // the apiserver's answer to the create, if not the fake's
		req        protocol.StartRequest
		wantReason string // "" with wantErr false: the saga is created
		wantErr    bool   // a transient error
	}{
		{name: "created", namespaces: []string{testNamespace}, objs: []client.Object{checkoutTemplate()}, req: startRequest("ORD-1")},
		{name: "namespace not accepted", namespaces: []string{"other"}, objs: []client.Object{checkoutTemplate()},
			req: startRequest("ORD-1"), wantReason: protocol.RefuseNamespaceNotAccepted},
		{name: "bus starts off", objs: []client.Object{checkoutTemplate()},
			req: startRequest("ORD-1"), wantReason: protocol.RefuseNamespaceNotAccepted},
		{name: "unknown template", namespaces: []string{testNamespace}, req: startRequest("ORD-1"), wantReason: protocol.RefuseUnknownTemplate},
		{name: "name taken by another order", namespaces: []string{testNamespace}, objs: []client.Object{checkoutTemplate(), taken},
			req: startRequest("ORD-2"), wantReason: protocol.RefuseSagaNameTaken},
		{name: "apiserver refuses the order", namespaces: []string{testNamespace}, objs: []client.Object{checkoutTemplate()},
			create: func() error {
				return apierrors.NewInvalid(sagaKind, "x", field.ErrorList{field.Required(field.NewPath("spec", "order", "items"), "")})
			},
			req: startRequest("ORD-1"), wantReason: protocol.RefuseInvalidOrder},
		{name: "apiserver forbids", namespaces: []string{testNamespace}, objs: []client.Object{checkoutTemplate()},
			create: func() error {
				return apierrors.NewForbidden(ordersv1alpha1.GroupVersion.WithResource("ordersagas").GroupResource(), "x", errors.New("no"))
			},
			req: startRequest("ORD-1"), wantReason: protocol.RefuseNotPermitted},
		{name: "apiserver unavailable", namespaces: []string{testNamespace}, objs: []client.Object{checkoutTemplate()},
			create: func() error { return apierrors.NewServiceUnavailable("down") },
			req:    startRequest("ORD-1"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wrap func(client.WithWatch) interceptor.Funcs
			if tt.create != nil {
				wrap = func(client.WithWatch) interceptor.Funcs {
					return interceptor.Funcs{Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
						return tt.create()
					}}
				}
			}
			h := newHarness(t, wrap, tt.objs...)
			h.r.StartNamespaces = sets.New(tt.namespaces...)
			ctx := context.Background()
			got, err := h.r.StartSaga(ctx, StartSaga{Request: tt.req})
			if reason := protocol.RejectReason(err); reason != tt.wantReason || (err != nil) != (tt.wantErr || tt.wantReason != "") {
				t.Fatalf("err %v (reason %q), want reason %q, transient %v", err, reason, tt.wantReason, tt.wantErr)
			}
			key := types.NamespacedName{Namespace: testNamespace, Name: protocol.StartedSagaName("checkout", tt.req.Order.ID)}
			if err != nil {
				if tt.wantReason != protocol.RefuseSagaNameTaken {
					if err := h.api.Get(ctx, key, &ordersv1alpha1.OrderSaga{}); !apierrors.IsNotFound(err) {
						t.Errorf("a refused start created %s: %v", key, err)
					}
				}
				return
			}
			if got.Key != key || !got.Created { // the fake client gives no uid; the integration suite checks it
				t.Errorf("got %+v, want %s created", got, key)
			}
			s := h.get(t, key)
			if s.Spec.TemplateRef == nil || s.Spec.TemplateRef.Name != "checkout" || s.Spec.Order.ID != tt.req.Order.ID ||
				s.Labels[ordersv1alpha1.StartedByLabel] != ordersv1alpha1.StartedByBus {
				t.Errorf("saga %+v", s)
			}
			again, err := h.r.StartSaga(ctx, StartSaga{Request: tt.req})
			if err != nil || again.Key != key || again.UID != got.UID || again.Created {
				t.Errorf("the same start again: %+v, %v", again, err)
			}
		})
	}
}

// fakeStarter answers StartSaga with errs in turn, then with started.
type fakeStarter struct {
	errs    []error
	started SagaStarted
	calls   int
}

func (f *fakeStarter) StartSaga(context.Context, StartSaga) (SagaStarted, error) {
	f.calls++
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return SagaStarted{}, err
	}
	return f.started, nil
}

func startDelivery(ack amqp.Acknowledger, body string) amqp.Delivery {
	return amqp.Delivery{Acknowledger: ack, DeliveryTag: 1, MessageId: "m-1", ReplyTo: "client.replies", Body: []byte(body)}
}

const goodStart = `{"template":"checkout","namespace":"shop","order":{"id":"ORD-1"}}`

func TestStartConsumer(t *testing.T) {
	started := SagaStarted{Key: types.NamespacedName{Namespace: "shop", Name: "checkout.x"}, UID: "u-1", Created: true}
	unavailable := apierrors.NewServiceUnavailable("down")
	tests := []struct {
		name         string
		body         string
		errs         []error
		afterStart   error
		publishErr   error
		cancelled    bool
		wantReply    protocol.StartReply
		wantNoReply  bool
		wantAck      bool
		wantRequeue  bool
		wantDeadFor  string
		wantAttempts int
	}{
		{name: "started", body: goodStart, wantReply: protocol.StartReply{Namespace: "shop", Name: "checkout.x", UID: "u-1"},
			wantAck: true, wantAttempts: 1},
		{name: "transient, then started", body: goodStart, errs: []error{unavailable, unavailable},
			wantReply: protocol.StartReply{Namespace: "shop", Name: "checkout.x", UID: "u-1"}, wantAck: true, wantAttempts: 3},
		{name: "refused", body: goodStart, errs: []error{refuse(protocol.RefuseUnknownTemplate, "no")},
			wantReply:   protocol.StartReply{Error: &protocol.Failure{Reason: protocol.RefuseUnknownTemplate, Message: "no"}},
			wantDeadFor: protocol.RefuseUnknownTemplate, wantAttempts: 1},
		{name: "undecodable", body: `{`, wantDeadFor: protocol.RefuseMalformed, wantAttempts: 0,
			wantReply: protocol.StartReply{Error: &protocol.Failure{Reason: protocol.RefuseMalformed}}},
		{name: "stopping while unavailable", body: goodStart, errs: []error{unavailable}, cancelled: true,
			wantNoReply: true, wantRequeue: true, wantAttempts: 1},
		{name: "crash after the create", body: goodStart, afterStart: errors.New("crash"),
			wantNoReply: true, wantRequeue: true, wantAttempts: 1},
		{name: "reply not sent", body: goodStart, publishErr: amqpconn.ErrNotConfirmed,
			wantNoReply: true, wantRequeue: true, wantAttempts: 1},
		{name: "nobody listens", body: goodStart, publishErr: &amqpconn.UnroutableError{},
			wantNoReply: true, wantAck: true, wantAttempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			starter := &fakeStarter{errs: tt.errs, started: started}
			pub := &fakePublisher{errFor: func(string) error { return tt.publishErr }}
			dead := &fakeDeadLetters{}
			ack := &fakeAcknowledger{}
			c := &StartConsumer{Starter: starter, Publisher: pub, DeadLetters: dead, RetryDelay: time.Millisecond,
				MaxRetryDelay: time.Millisecond, HoldLimit: time.Minute, Log: testr.New(t)}
			if tt.afterStart != nil {
				c.AfterStart = func(context.Context, SagaStarted) error { return tt.afterStart }
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelled {
				cancel()
			}
			c.Handle(ctx, startDelivery(ack, tt.body))

			if starter.calls != tt.wantAttempts {
				t.Errorf("%d StartSaga, want %d", starter.calls, tt.wantAttempts)
			}
			checkStartReply(t, pub.to(""), tt.wantNoReply, tt.wantReply)
			if acked := len(ack.acked) == 1; acked != tt.wantAck {
				t.Errorf("acked %v, want %v", ack.acked, tt.wantAck)
			}
			if requeued := len(ack.requeued) == 1; requeued != tt.wantRequeue {
				t.Errorf("requeued %v, want %v", ack.requeued, tt.wantRequeue)
			}
			var deadFor string
			if len(dead.letters) == 1 {
				deadFor = dead.letters[0].Reason
			}
			if deadFor != tt.wantDeadFor || len(dead.letters) > 1 {
				t.Errorf("dead-lettered %+v, want for %q", dead.letters, tt.wantDeadFor)
			}
		})
	}
}

// checkStartReply checks that sent is the reply wanted, or nothing.
func checkStartReply(t *testing.T, sent []sentMessage, wantNoReply bool, wantReply protocol.StartReply) {
	t.Helper()
	if wantNoReply != (len(sent) == 0) || len(sent) > 1 {
		t.Fatalf("replies %+v", sent)
	}
	if len(sent) == 0 {
		return
	}
	m := sent[0]
	var got protocol.StartReply
	if err := json.Unmarshal(m.Message.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Error != nil && wantReply.Error != nil && wantReply.Error.Message == "" {
		got.Error.Message = "" // decoder messages are not the point
	}
	if m.Exchange != "" || m.RoutingKey != "client.replies" || m.Message.CorrelationID != "m-1" ||
		m.Message.Type != protocol.StartReplyType {
		t.Errorf("reply %+v", m)
	}
	if string(mustJSON(t, got)) != string(mustJSON(t, wantReply)) {
		t.Errorf("reply %s, want %s", mustJSON(t, got), mustJSON(t, wantReply))
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestQueryConsumer(t *testing.T) {
	s := fixtures.NewSaga(testNamespace, "checkout.ord-1")
	s.Spec.Steps = nil
	s.Spec.TemplateRef = &ordersv1alpha1.TemplateReference{Name: "checkout"}
	s.Status.Phase = ordersv1alpha1.PhaseCompleted
	s.Status.Template = &ordersv1alpha1.PinnedTemplate{Name: "checkout", Generation: 3}
	s.Status.Steps = []ordersv1alpha1.StepStatus{{Name: "charge-payment", State: ordersv1alpha1.StepSucceeded,
		Result:      map[string]ordersv1alpha1.ResultValue{"paymentId": "p-1", "amount": "2.50"},
		ResultTypes: map[string]ordersv1alpha1.ResultType{"amount": ordersv1alpha1.ResultNumber}}}
	h := newHarness(t, nil, s)
	tests := []struct {
		name, body, replyTo string
		wantSaga            string // the name of the saga answered
		wantReason          string
		wantDead            bool
	}{
		{name: "by name", body: `{"namespace":"shop","name":"checkout.ord-1"}`, replyTo: "r", wantSaga: "checkout.ord-1"},
		{name: "by order id", body: `{"orderId":"` + s.Spec.Order.ID + `"}`, replyTo: "r", wantSaga: "checkout.ord-1"},
		{name: "missing", body: `{"namespace":"shop","name":"nope"}`, replyTo: "r", wantReason: protocol.RefuseSagaNotFound},
		{name: "invalid", body: `{"namespace":"shop"}`, replyTo: "r", wantReason: protocol.RefuseInvalid, wantDead: true},
		{name: "no reply_to", body: `{"namespace":"shop","name":"checkout.ord-1"}`, wantReason: protocol.RefuseNoReplyTo, wantDead: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, dead, ack := &fakePublisher{}, &fakeDeadLetters{}, &fakeAcknowledger{}
			c := &QueryConsumer{Querier: h.r, Publisher: pub, DeadLetters: dead, Log: testr.New(t)}
			c.Handle(context.Background(), amqp.Delivery{Acknowledger: ack, DeliveryTag: 1, MessageId: "q-1",
				CorrelationId: "c-1", ReplyTo: tt.replyTo, Body: []byte(tt.body)})
			if tt.wantDead != (len(dead.letters) == 1) || tt.wantDead == (len(ack.acked) == 1) {
				t.Errorf("dead-lettered %+v, acked %v", dead.letters, ack.acked)
			}
			if tt.replyTo == "" {
				if len(pub.to("")) != 0 {
					t.Errorf("replied to nobody: %+v", pub.to(""))
				}
				return
			}
			sent := pub.to("")
			if len(sent) != 1 || sent[0].Message.CorrelationID != "c-1" || sent[0].RoutingKey != "r" {
				t.Fatalf("replies %+v", sent)
			}
			var got protocol.QueryReply
			if err := json.Unmarshal(sent[0].Message.Body, &got); err != nil {
				t.Fatal(err)
			}
			if tt.wantReason != "" {
				if got.Error == nil || got.Error.Reason != tt.wantReason || got.Saga != nil {
					t.Errorf("reply %s, want reason %s", sent[0].Message.Body, tt.wantReason)
				}
				return
			}
			want := `{"saga":{"namespace":"shop","name":"checkout.ord-1","uid":"` + string(h.get(t, client.ObjectKeyFromObject(s)).UID) +
				`","orderId":"` + s.Spec.Order.ID + `","phase":"Completed","template":"checkout","templateGeneration":3,` +
				`"steps":[{"name":"charge-payment","state":"Succeeded","result":{"amount":2.50,"paymentId":"p-1"}}]}}`
			if string(sent[0].Message.Body) != want {
				t.Errorf("reply\n%s\nwant\n%s", sent[0].Message.Body, want)
			}
		})
	}
}

// A saga the cache does not hold (a finished one leaves it) is answered
// from a live read, by name and by order id.
func TestGetSagaReadsLiveWhenTheCacheMisses(t *testing.T) {
	s := fixtures.NewSaga(testNamespace, "gone-from-cache")
	emptyCache := func(client.WithWatch) interceptor.Funcs {
		return interceptor.Funcs{
			Get: func(_ context.Context, _ client.WithWatch, key client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
				return apiNotFound(key)
			},
			List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error { return nil },
		}
	}
	h := newHarness(t, emptyCache, s)
	for _, q := range []GetSaga{
		{Namespace: testNamespace, Name: s.Name},
		{Namespace: testNamespace, OrderID: s.Spec.Order.ID},
		{OrderID: s.Spec.Order.ID},
	} {
		got, err := h.r.GetSaga(context.Background(), q)
		if err != nil || got.Key.Name != s.Name {
			t.Errorf("%+v: %+v, %v", q, got, err)
		}
	}
	if _, err := h.r.GetSaga(context.Background(), GetSaga{Namespace: testNamespace, Name: "nope"}); !errors.Is(err, ErrSagaNotFound) {
		t.Errorf("missing saga: %v", err)
	}
}

// The SDK checks a start message's order id as the API does: the CRD's
// schema of spec.order.id says the same as protocol.OrderIDPattern.
func TestOrderIDRuleMatchesTheAPI(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "orders.ordersaga.io_ordersagas.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := utilyaml.ToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema struct {
						Properties struct {
							Spec struct {
								Properties struct {
									Order struct {
										Properties struct {
											ID struct {
												Pattern   string `json:"pattern"`
												MaxLength int    `json:"maxLength"`
											} `json:"id"`
										} `json:"properties"`
									} `json:"order"`
								} `json:"properties"`
							} `json:"spec"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(js, &crd); err != nil || len(crd.Spec.Versions) != 1 {
		t.Fatalf("read the CRD: %v", err)
	}
	id := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties.Spec.Properties.Order.Properties.ID
	if id.Pattern != protocol.OrderIDPattern || id.MaxLength != protocol.MaxOrderIDLength {
		t.Errorf("the API's order ids are %s of at most %d characters; the SDK checks %s of at most %d",
			id.Pattern, id.MaxLength, protocol.OrderIDPattern, protocol.MaxOrderIDLength)
	}
}

// A shard (Namespaces set) answers queries about its own namespaces only,
// and a query by order id in every namespace reads those, one by one, and
// nothing else.
func TestGetSagaStaysInTheShardsNamespaces(t *testing.T) {
	mine := fixtures.NewSaga(testNamespace, "mine")
	theirs := fixtures.NewSaga("other-shard", "theirs")
	theirs.Spec.Order.ID = mine.Spec.Order.ID
	emptyCache := func(client.WithWatch) interceptor.Funcs {
		return interceptor.Funcs{
			Get: func(_ context.Context, _ client.WithWatch, key client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
				return apiNotFound(key)
			},
			List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error { return nil },
		}
	}
	h := newHarness(t, emptyCache, mine, theirs)
	h.r.Namespaces = sets.New(testNamespace, "empty")
	var listed []string
	h.r.APIReader = interceptor.NewClient(h.api.(client.WithWatch), interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			lo := &client.ListOptions{}
			lo.ApplyOptions(opts)
			listed = append(listed, lo.Namespace)
			return c.List(ctx, list, opts...)
		},
	})

	if _, err := h.r.GetSaga(context.Background(), GetSaga{Namespace: "other-shard", Name: theirs.Name}); !errors.Is(err, ErrNamespaceNotOwned) {
		t.Errorf("another shard's saga: want ErrNamespaceNotOwned, got %v", err)
	}
	got, err := h.r.GetSaga(context.Background(), GetSaga{OrderID: mine.Spec.Order.ID})
	if err != nil || got.Key != client.ObjectKeyFromObject(mine) {
		t.Errorf("order id in every namespace: want %s alone, got %+v, %v", mine.Name, got.Key, err)
	}
	if !slices.Equal(listed, []string{"empty", testNamespace}) {
		t.Errorf("live lists in namespaces %q, want the shard's only, one by one", listed)
	}
}
