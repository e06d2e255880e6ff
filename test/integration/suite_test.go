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
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/internal/controller"
	"github.com/ordersaga/ordersaga-operator/internal/mediator"
	"github.com/ordersaga/ordersaga-operator/internal/operator"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/faultproxy"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/registry"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/simparticipant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// The suite runs the real operator (manager, broker connection, reply
// consumer, reconciler) against envtest and the local RabbitMQ, with
// participants simulated over AMQP. It asserts through k8sClient, which reads
// the apiserver directly: the manager's cache may lag, and a test that reads
// it can pass by accident.
var (
	ctx          context.Context
	cancel       context.CancelFunc
	env          *envtest.Environment
	cfg          *rest.Config
	scheme       *runtime.Scheme
	k8sClient    client.Client
	topology     broker.Topology
	script       = &scriptBook{byNamespace: map[string]map[string]simparticipant.Behaviour{}}
	counts       = &countingObserver{}
	running      *runningOperator
	participants = map[string]*simparticipant.Participant{}
	deadLetters  *deadLetterBox
	// proxy sits between the operator and the broker, for fault injection.
	proxy *faultproxy.Proxy
	// spans records the spans of the operator and of SDK participants.
	spans = tracetest.NewSpanRecorder()
)

func TestController(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "OrderSaga Controller Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	var err error
	env, cfg, err = controlplane.Start()
	Expect(err).NotTo(HaveOccurred())
	scheme, err = controlplane.Scheme()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))

	// A topology of the suite's own, so that it shares the broker with no one.
	topology = broker.Topology{Prefix: "it-" + rand.String(6)}
	brokerURL, err := url.Parse(rabbitmq.BrokerURL())
	Expect(err).NotTo(HaveOccurred())
	proxy, err = faultproxy.Start(brokerURL.Host)
	Expect(err).NotTo(HaveOccurred())
	running = startOperator()
	Expect(registry.Register(ctx, k8sClient, topology.CommandExchange(), fixtures.NewParticipants("guest")...)).To(Succeed())
	for _, service := range []string{"inventory", "payment", "shipping"} {
		p, err := simparticipant.Start(rabbitmq.BrokerURL(), topology.CommandExchange(), service, script.behave(service))
		Expect(err).NotTo(HaveOccurred())
		participants[service] = p
	}
	deadLetters = collectDeadLetters()
})

var _ = AfterSuite(func() {
	if running != nil {
		running.stop()
	}
	if proxy != nil {
		proxy.Close()
	}
	for _, p := range participants {
		p.Stop()
	}
	if conn, err := amqp.Dial(rabbitmq.BrokerURL()); err == nil {
		if ch, err := conn.Channel(); err == nil {
			_ = topology.Delete(ch)
		}
		_ = conn.Close()
	}
	cancel()
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

// runningOperator is one manager running the operator.
type runningOperator struct {
	*operator.Operator
	// cached reads the manager's cache, for the tests of what it holds.
	cached client.Reader
	cancel context.CancelFunc
	done   chan struct{}
	// metricsURL and readyzURL are the manager's endpoints.
	metricsURL, readyzURL string
}

// freeAddress returns a local address with a free port.
func freeAddress() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// startOperator starts a manager with the operator, as cmd/ does, connected
// to the broker through the suite's proxy, and waits until it is connected.
func startOperator() *runningOperator {
	metricsAddr, probeAddr := freeAddress(), freeAddress()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  operator.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
		// Several managers run in this process, one after another.
		Controller: config.Controller{SkipNameValidation: new(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	op, err := operator.Setup(mgr, operator.Options{
		BrokerURL:               proxy.URL(rabbitmq.BrokerURL()),
		TopologyPrefix:          topology.Prefix,
		MaxConcurrentReconciles: 8,
		BrokerRetryInterval:     200 * time.Millisecond,
		RetentionSweepInterval:  time.Second,     // the retention test waits for it
		ReplySettleTimeout:      2 * time.Second, // the reply return test waits for it
		MinReconnectDelay:       50 * time.Millisecond,
		MaxReconnectDelay:       time.Second,
		Subscribe:               counts.subscribe,
		StartNamespaces:         []string{busNamespace},
		AfterSagaStarted:        afterSagaStarted,
		WrapClient:              failingCreates,
	})
	Expect(err).NotTo(HaveOccurred())
	mgrCtx, mgrCancel := context.WithCancel(ctx)
	r := &runningOperator{Operator: op, cached: mgr.GetCache(), cancel: mgrCancel, done: make(chan struct{}),
		metricsURL: "http://" + metricsAddr + "/metrics", readyzURL: "http://" + probeAddr + "/readyz"}
	go func() {
		defer GinkgoRecover()
		defer close(r.done)
		Expect(mgr.Start(mgrCtx)).To(Succeed())
	}()
	Eventually(op.Broker.Connected).Should(BeTrue())
	return r
}

func (r *runningOperator) stop() {
	r.cancel()
	<-r.done
}

// scriptBook holds how the participants behave, per test namespace and
// service; Succeed unless a test says otherwise.
type scriptBook struct {
	mu          sync.Mutex
	byNamespace map[string]map[string]simparticipant.Behaviour
}

func (s *scriptBook) set(namespace, service string, b simparticipant.Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byNamespace[namespace] == nil {
		s.byNamespace[namespace] = map[string]simparticipant.Behaviour{}
	}
	s.byNamespace[namespace][service] = b
}

func (s *scriptBook) behave(service string) simparticipant.Behaviour {
	return func(cmd protocol.Command) *protocol.Reply {
		s.mu.Lock()
		b := s.byNamespace[cmd.Saga.Namespace][service]
		s.mu.Unlock()
		if b == nil {
			return simparticipant.Succeed(cmd)
		}
		return b(cmd)
	}
}

// countingObserver counts status writes and step transitions per saga, as
// a subscriber of the reconciler's notifications.
type countingObserver struct {
	mu          sync.Mutex
	writes      map[types.UID]int
	transitions map[types.UID][]saga.Transition
}

func (c *countingObserver) subscribe(b *mediator.Builder) {
	mediator.Subscribe(b, func(_ context.Context, n controller.StatusWritten) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.writes == nil {
			c.writes = map[types.UID]int{}
		}
		c.writes[n.Saga.UID]++
		return nil
	})
	mediator.Subscribe(b, func(_ context.Context, n controller.SagaTransitioned) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.transitions == nil {
			c.transitions = map[types.UID][]saga.Transition{}
		}
		c.transitions[n.Saga.UID] = append(c.transitions[n.Saga.UID], n.Transition)
		return nil
	})
}

// stepTransitions counts a saga's changes of step state (retries included).
func (c *countingObserver) stepTransitions(uid types.UID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.transitions[uid] {
		if t.Step != "" {
			n++
		}
	}
	return n
}

func (c *countingObserver) statusWrites(uid types.UID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes[uid]
}

// newNamespace creates a namespace of its own for one test. envtest never
// finishes deleting namespaces, so tests leave them and isolate by name.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "saga-test-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}
