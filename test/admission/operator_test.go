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

package admission_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/internal/operator"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/registry"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/simparticipant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// missingPolicyLog is the operator's line when it has to add the finalizer.
const missingPolicyLog = "Finalizer added by the operator: the admission policy that adds it at creation seems not installed"

var _ = Describe("The operator, as deployed", func() {
	It("writes no finalizer to a saga the policy gave one, and removes it once the saga is done", func() {
		ns := newNamespace()
		op := startOperator(ns)
		op.startParticipants(map[string]simparticipant.Behaviour{})
		s := fixtures.NewSaga(ns, "order-1")
		create(editor(ns), s)

		done := &ordersv1alpha1.OrderSaga{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), done)).To(Succeed())
			g.Expect(done.Status.Phase).To(Equal(ordersv1alpha1.PhaseCompleted))
			g.Expect(done.Labels).To(HaveKey(ordersv1alpha1.FinishedLabel), "retired once its events are out")
		}).Should(Succeed())
		Expect(done.Finalizers).To(BeEmpty(), "removed at retirement: nothing is left to undo")
		// Besides the status, its one write is the retirement's label and
		// expiry annotation.
		for _, fields := range operatorWrites(done) {
			Expect(fields).NotTo(ContainSubstring("f:finalizers"))
			Expect(fields).NotTo(ContainSubstring("f:spec"))
			Expect(fields).To(ContainSubstring(ordersv1alpha1.FinishedLabel))
		}

		Expect(k8sClient.Delete(ctx, done)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), done))
		}).Should(BeTrue())
		Expect(op.logs.count(missingPolicyLog)).To(BeZero())
	})

	It("compensates a running saga an editor deletes, whose finalizer the editor could not remove", func() {
		ns := newNamespace()
		op := startOperator(ns)
		refund := make(chan struct{})
		var once sync.Once
		releaseRefund := func() { once.Do(func() { close(refund) }) }
		DeferCleanup(releaseRefund)
		payment := op.startParticipants(map[string]simparticipant.Behaviour{
			// The charge is never answered, so the saga stays running; the
			// refund is answered when the test says.
			"payment": func(cmd protocol.Command) *protocol.Reply {
				if cmd.Kind == protocol.KindCommand {
					return nil
				}
				select {
				case <-refund:
				case <-time.After(time.Minute):
				}
				return &protocol.Reply{Status: protocol.StatusSucceeded}
			},
		})["payment"]
		editorClient := editor(ns)
		s := fixtures.NewSaga(ns, "order-1")
		s.Spec.Steps[1].Timeout = "1m"
		create(editorClient, s)
		Eventually(func() []string { return op.sequence(s.UID) }).Should(Equal([]string{"ReserveInventory", "ChargePayment"}))

		By("removing the finalizer of the running saga: refused")
		Expect(removeFinalizer(editorClient, s)).To(MatchError(ContainSubstring(refusal)))

		By("deleting the saga, then removing the finalizer: refused while it compensates")
		Expect(editorClient.Delete(ctx, s)).To(Succeed())
		Eventually(func() int { return len(payment.Received()) }).Should(Equal(2))
		Expect(removeFinalizer(editorClient, s)).To(MatchError(ContainSubstring(refusal)))

		By("the operator releasing it once compensated")
		releaseRefund()
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), &ordersv1alpha1.OrderSaga{}))
		}).Should(BeTrue())
		Expect(op.sequence(s.UID)).To(Equal([]string{"ReserveInventory", "ChargePayment", "RefundPayment", "ReleaseInventory"}))
	})

	It("adds the finalizer itself when the policies are not installed, and says so once", func() {
		Expect(controlplane.RemoveAdmissionPolicies(ctx, cfg)).To(Succeed())
		DeferCleanup(func() {
			Expect(controlplane.InstallAdmissionPolicies(ctx, cfg)).To(Succeed())
		})
		ns := newNamespace()
		editorClient := editor(ns)
		first, second := fixtures.NewSaga(ns, "order-1"), fixtures.NewSaga(ns, "order-2")
		create(editorClient, first)
		create(editorClient, second)
		Expect(first.Finalizers).To(BeEmpty(), "no policy gave it the finalizer")
		// An editor may remove the finalizer now: compensation rests on the
		// operator adding it before it sends anything.
		op := startOperator(ns)

		for _, s := range []*ordersv1alpha1.OrderSaga{first, second} {
			Eventually(func(g Gomega) {
				live := &ordersv1alpha1.OrderSaga{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), live)).To(Succeed())
				g.Expect(live.Finalizers).To(ContainElement(ordersv1alpha1.Finalizer))
				g.Expect(operatorWrites(live)).To(ContainElement(ContainSubstring(`"f:finalizers"`)))
			}).Should(Succeed())
		}
		Eventually(func() int { return op.logs.count(missingPolicyLog) }).Should(Equal(1))
		Consistently(func() int { return op.logs.count(missingPolicyLog) }, 500*time.Millisecond).Should(Equal(1))
	})
})

// operatorWrites returns the fields the operator's writes to the saga
// itself (not its status) own, one entry per write operation recorded in
// managedFields.
func operatorWrites(s *ordersv1alpha1.OrderSaga) []string {
	var out []string
	for _, mf := range s.ManagedFields {
		if mf.Manager == operatorFieldManager && mf.Subresource == "" && mf.FieldsV1 != nil {
			out = append(out, mf.FieldsV1.GetRawString())
		}
	}
	return out
}

// runningOperator is the operator in a manager of its own, acting as the
// deployed service account and watching one namespace, with a topology of
// its own on the local broker.
type runningOperator struct {
	topology     broker.Topology
	logs         *logLines
	participants map[string]*simparticipant.Participant
}

func startOperator(namespace string) *runningOperator {
	GinkgoHelper()
	op := &runningOperator{topology: broker.Topology{Prefix: "admission-" + rand.String(6)}, logs: &logLines{}}
	cacheOpts := operator.CacheOptions()
	cacheOpts.DefaultNamespaces = map[string]cache.Config{namespace: {}}
	mgr, err := ctrl.NewManager(operatorCfg, ctrl.Options{
		Scheme: scheme, Logger: op.logs.logger(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache: cacheOpts,
		// Several managers run in this process, one after another.
		Controller: config.Controller{SkipNameValidation: new(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	o, err := operator.Setup(mgr, operator.Options{
		BrokerURL: rabbitmq.BrokerURL(), TopologyPrefix: op.topology.Prefix,
		BrokerRetryInterval: 200 * time.Millisecond, MinReconnectDelay: 50 * time.Millisecond, MaxReconnectDelay: time.Second,
	})
	Expect(err).NotTo(HaveOccurred())
	mgrCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(mgrCtx)).To(Succeed())
	}()
	DeferCleanup(func() {
		stop()
		<-done
		conn, err := amqp.Dial(rabbitmq.BrokerURL())
		Expect(err).NotTo(HaveOccurred())
		defer func() { _ = conn.Close() }()
		ch, err := conn.Channel()
		Expect(err).NotTo(HaveOccurred())
		Expect(op.topology.Delete(ch)).To(Succeed())
	})
	Eventually(o.Broker.Connected).Should(BeTrue())
	return op
}

// startParticipants starts the three services of the sample saga on the
// operator's topology; each succeeds unless behaviours says otherwise.
func (op *runningOperator) startParticipants(behaviours map[string]simparticipant.Behaviour) map[string]*simparticipant.Participant {
	GinkgoHelper()
	op.participants = map[string]*simparticipant.Participant{}
	Expect(registry.Register(ctx, k8sClient, op.topology.CommandExchange(), fixtures.NewParticipants("guest")...)).To(Succeed())
	for _, service := range []string{"inventory", "payment", "shipping"} {
		behaviour := behaviours[service]
		if behaviour == nil {
			behaviour = simparticipant.Succeed
		}
		p, err := simparticipant.Start(rabbitmq.BrokerURL(), op.topology.CommandExchange(), service, behaviour)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(p.Stop)
		op.participants[service] = p
	}
	return op.participants
}

// sequence returns the commands the participants received for a saga, in
// the order received.
func (op *runningOperator) sequence(uid types.UID) []string {
	type named struct {
		name string
		at   time.Time
	}
	var all []named
	for _, p := range op.participants {
		for _, r := range p.Received() {
			if r.Command.Saga.UID == string(uid) {
				all = append(all, named{r.Command.Name, r.At})
			}
		}
	}
	slices.SortFunc(all, func(a, b named) int { return a.at.Compare(b.at) })
	out := make([]string, len(all))
	for i, n := range all {
		out[i] = n.name
	}
	return out
}

// logLines keeps what a manager logs, and copies it to the test's output.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		l.lines = append(l.lines, args)
		l.mu.Unlock()
		_, _ = GinkgoWriter.Write([]byte(prefix + " " + args + "\n"))
	}, funcr.Options{})
}

// count returns how many lines have the message msg.
func (l *logLines) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, `"msg"="`+msg+`"`) {
			n++
		}
	}
	return n
}
