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

// Package sharding_test runs two shards of the operator (docs/scaling.md)
// in one process against one envtest and the local RabbitMQ: shard a owns
// ns-a and the Participants, shard b owns ns-b, both under one topology
// prefix. It has an apiserver of its own, so that no unsharded operator
// (the integration suite's) reconciles the shards' sagas.
package sharding_test

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
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
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/registry"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/simparticipant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// creator is the field manager of the suite's own writes (the sagas'
// creation): every other manager of a saga is a shard's.
const creator = "sharding-suite"

var (
	ctx    context.Context
	cancel context.CancelFunc
	env    *envtest.Environment
	cfg    *rest.Config
	scheme *runtime.Scheme
	// k8sClient reads the apiserver directly, managedFields included.
	k8sClient client.Client
	// prefix is the topology prefix both shards share.
	prefix       string
	shardA       *shard
	shardB       *shard
	participants []*simparticipant.Participant
)

func TestSharding(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "Operator Sharding Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	var err error
	env, cfg, err = controlplane.Start()
	Expect(err).NotTo(HaveOccurred())
	scheme, err = controlplane.Scheme()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme, FieldOwner: creator})
	Expect(err).NotTo(HaveOccurred())
	for _, ns := range []string{"ns-a", "ns-b"} {
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	}

	prefix = "shard-" + rand.String(6)
	shardA = startShard("a", "ns-a", true)
	shardB = startShard("b", "ns-b", false)
	commands := protocol.CommandExchange(prefix)
	Expect(registry.Register(ctx, k8sClient, commands, fixtures.NewParticipants("guest")...)).To(Succeed())
	for _, service := range []string{"inventory", "payment", "shipping"} {
		p, err := simparticipant.Start(rabbitmq.BrokerURL(), commands, service, declineCompensating(service))
		Expect(err).NotTo(HaveOccurred())
		participants = append(participants, p)
	}
})

var _ = AfterSuite(func() {
	for _, s := range []*shard{shardA, shardB} {
		if s != nil {
			s.stop()
		}
	}
	for _, p := range participants {
		p.Stop()
	}
	if conn, err := amqp.Dial(rabbitmq.BrokerURL()); err == nil {
		if ch, err := conn.Channel(); err == nil {
			for _, s := range []*shard{shardA, shardB} {
				if s != nil {
					_ = s.topology.Delete(ch)
				}
			}
		}
		_ = conn.Close()
	}
	cancel()
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

// declineCompensating makes payment decline the sagas whose name ends in
// "-compensate", so that they compensate; every other command succeeds.
func declineCompensating(service string) simparticipant.Behaviour {
	return func(cmd protocol.Command) *protocol.Reply {
		if service == "payment" && strings.HasSuffix(cmd.Saga.Name, "-compensate") && cmd.Kind != protocol.KindCompensation {
			return &protocol.Reply{Status: protocol.StatusFailed, Reason: "CardDeclined", Message: "declined by the test"}
		}
		return simparticipant.Succeed(cmd)
	}
}

// shard is one manager running the operator as one shard.
type shard struct {
	name, namespace string
	// fieldOwner is the field manager of every write of the shard's client.
	fieldOwner string
	topology   broker.Topology
	writes     *statusWrites
	cancel     context.CancelFunc
	done       chan struct{}
}

// startShard starts a manager as cmd/ does with --shard=name
// --namespaces=namespace (and --manage-participants=manageParticipants),
// its writes under a field manager of its own, and waits until it is
// connected to the broker.
func startShard(name, namespace string, manageParticipants bool) *shard {
	o := operator.Options{
		BrokerURL:                 rabbitmq.BrokerURL(),
		TopologyPrefix:            prefix,
		Shard:                     name,
		Namespaces:                []string{namespace},
		StartNamespaces:           []string{namespace},
		SkipParticipantController: !manageParticipants,
		BrokerRetryInterval:       200 * time.Millisecond,
		RetentionSweepInterval:    time.Second,
	}
	s := &shard{name: name, namespace: namespace, fieldOwner: "shard-" + name, writes: &statusWrites{},
		topology: broker.Topology{Prefix: prefix, Shard: name}, done: make(chan struct{})}
	o.Subscribe = s.writes.subscribe
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  operator.CacheOptions(o.Namespaces...),
		Client:                 client.Options{FieldOwner: s.fieldOwner},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Each shard elects its own leader: with one lease, shard b would
		// wait on shard a's for ever and its sagas would never move.
		LeaderElection:                true,
		LeaderElectionID:              o.LeaderElectionID(),
		LeaderElectionNamespace:       "default",
		LeaderElectionReleaseOnCancel: true,
		// Two managers run in this process at once.
		Controller: config.Controller{SkipNameValidation: new(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	op, err := operator.Setup(mgr, o)
	Expect(err).NotTo(HaveOccurred())
	mgrCtx, mgrCancel := context.WithCancel(ctx)
	s.cancel = mgrCancel
	go func() {
		defer GinkgoRecover()
		defer close(s.done)
		Expect(mgr.Start(mgrCtx)).To(Succeed())
	}()
	Eventually(op.Broker.Connected).Should(BeTrue())
	return s
}

func (s *shard) stop() {
	s.cancel()
	<-s.done
}

// statusWrites records the sagas a shard's reconciler wrote the status of.
type statusWrites struct {
	mu    sync.Mutex
	sagas map[types.NamespacedName]int
}

func (w *statusWrites) subscribe(b *mediator.Builder) {
	mediator.Subscribe(b, func(_ context.Context, n controller.StatusWritten) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.sagas == nil {
			w.sagas = map[types.NamespacedName]int{}
		}
		w.sagas[client.ObjectKeyFromObject(n.Saga)]++
		return nil
	})
}

// written returns the sagas written and how often.
func (w *statusWrites) written() map[types.NamespacedName]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.sagas)
}
