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
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/mediator"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
)

// The fast unit layer: the reconciler's steps against fakes of its narrow
// interfaces (publisher, dead-letterer, clock) and controller-runtime's fake
// client. No broker, no apiserver.

// fakePublisher records what is published; errFor decides each publish's
// error by routing key.
type fakePublisher struct {
	mu sync.Mutex
	// downSince is when the broker went away; zero while it is available.
	downSince time.Time
	sent      []sentMessage
	errFor    func(routingKey string) error
}

type sentMessage struct {
	Exchange, RoutingKey string
	Message              amqpconn.Message
}

func (p *fakePublisher) Publish(_ context.Context, exchange, routingKey string, msg amqpconn.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.errFor != nil {
		if err := p.errFor(routingKey); err != nil {
			return err
		}
	}
	p.sent = append(p.sent, sentMessage{Exchange: exchange, RoutingKey: routingKey, Message: msg})
	return nil
}

func (p *fakePublisher) UnavailableSince() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.downSince
}

func (p *fakePublisher) setDownSince(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.downSince = t
}

// messages are the commands and compensations sent; events are the
// lifecycle events.
func (p *fakePublisher) messages() []sentMessage { return p.to("test.commands") }
func (p *fakePublisher) events() []sentMessage   { return p.to(testEventExchange) }

const testEventExchange = "test.events"

func (p *fakePublisher) to(exchange string) []sentMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []sentMessage
	for _, m := range p.sent {
		if m.Exchange == exchange {
			out = append(out, m)
		}
	}
	return out
}

// fakeDeadLetters records dead-lettered replies.
type fakeDeadLetters struct {
	mu      sync.Mutex
	letters []deadLetter
}

type deadLetter struct{ MessageID, Reason string }

func (d *fakeDeadLetters) DeadLetter(_ context.Context, delivery amqp.Delivery, reason, _ string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.letters = append(d.letters, deadLetter{MessageID: delivery.MessageId, Reason: reason})
	return nil
}

// fakeAcknowledger records the acknowledgements of deliveries, and those
// returned to the queue (nacked with requeue).
type fakeAcknowledger struct {
	mu       sync.Mutex
	acked    []uint64
	requeued []uint64
}

func (a *fakeAcknowledger) Ack(tag uint64, _ bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.acked = append(a.acked, tag)
	return nil
}
func (a *fakeAcknowledger) Nack(tag uint64, _, requeue bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if requeue {
		a.requeued = append(a.requeued, tag)
	}
	return nil
}
func (a *fakeAcknowledger) Reject(uint64, bool) error { return nil }

type countingReplyObserver struct {
	deadLettered map[string]int
	returned     int
}

func (o *countingReplyObserver) ReplyReceived(string) {}
func (o *countingReplyObserver) ReplyDeadLettered(reason string) {
	o.deadLettered[reason]++
}
func (o *countingReplyObserver) ReplyReturned() { o.returned++ }

// harness is a reconciler wired to fakes.
type harness struct {
	r           *OrderSagaReconciler
	api         client.Client // the apiserver: what the fake client holds
	publisher   *fakePublisher
	deadLetters *fakeDeadLetters
	recorder    *events.FakeRecorder
	clock       *clocktesting.FakePassiveClock
	observed    *countingReplyObserver
	transitions []SagaTransitioned
	// requests is the SagaRequest controller, on the reconciler's bus.
	requests *SagaRequestReconciler
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// newHarness wires a reconciler to fakes holding objs. cached, when set,
// wraps the client the reconciler reads its cache through (to serve stale
// views); the APIReader always reads the fake apiserver.
func newHarness(t *testing.T, cached func(client.WithWatch) interceptor.Funcs, objs ...client.Object) *harness {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := ordersv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	// The namespace of the tests' sagas and the Participants of their
	// services, registered unless a test removes them.
	objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}})
	for _, p := range fixtures.NewParticipants(participantUser) {
		objs = append(objs, p)
	}
	api := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithStatusSubresource(&ordersv1alpha1.OrderSaga{}, &ordersv1alpha1.SagaRequest{}).
		WithIndex(&ordersv1alpha1.OrderSaga{}, orderIDField, indexOrderID).
		WithIndex(&ordersv1alpha1.OrderSaga{}, stepServiceField, indexStepServices).
		WithIndex(&ordersv1alpha1.OrderSaga{}, templateField, indexTemplate).Build()
	var c client.Client = api
	if cached != nil {
		c = interceptor.NewClient(api, cached(api))
	}
	h := &harness{
		api:         api,
		publisher:   &fakePublisher{},
		deadLetters: &fakeDeadLetters{},
		recorder:    events.NewFakeRecorder(100),
		clock:       clocktesting.NewFakePassiveClock(t0),
		observed:    &countingReplyObserver{deadLettered: map[string]int{}},
	}
	h.requests = &SagaRequestReconciler{Client: api, APIReader: api, Clock: h.clock}
	h.r = &OrderSagaReconciler{
		Client:                 c,
		APIReader:              api,
		Recorder:               h.recorder,
		Publisher:              h.publisher,
		DeadLetters:            h.deadLetters,
		CommandExchange:        "test.commands",
		ReplyQueue:             "test.replies",
		CommandUser:            "operator",
		Inbox:                  NewInbox(),
		Clock:                  h.clock,
		ReplyObserver:          h.observed,
		Events:                 EventsAll,
		BrokerRetryInterval:    time.Second,
		EventExchange:          testEventExchange,
		RetentionSweepInterval: time.Minute,
		Subscribers: []func(*mediator.Builder){func(b *mediator.Builder) {
			mediator.Subscribe(b, func(_ context.Context, n SagaTransitioned) error {
				h.transitions = append(h.transitions, n)
				return nil
			})
		}, h.requests.Subscribe},
	}
	if err := h.r.validate(); err != nil {
		t.Fatal(err)
	}
	if err := h.r.buildBus(); err != nil {
		t.Fatal(err)
	}
	h.requests.Bus = h.r.Bus()
	send, err := mediator.SenderFor[RequestVerb, VerbQueued](h.requests.Bus)
	if err != nil {
		t.Fatal(err)
	}
	h.requests.send = send
	return h
}

func (h *harness) get(t *testing.T, key types.NamespacedName) *ordersv1alpha1.OrderSaga {
	t.Helper()
	obj := &ordersv1alpha1.OrderSaga{}
	if err := h.api.Get(context.Background(), key, obj); err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return obj
}

func (h *harness) reasons() []string {
	out := make([]string, len(h.transitions))
	for i, n := range h.transitions {
		out[i] = string(n.Transition.Reason)
	}
	return out
}

func apiNotFound(key types.NamespacedName) error {
	return apierrors.NewNotFound(ordersv1alpha1.GroupVersion.WithResource("ordersagas").GroupResource(), key.Name)
}
