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

package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/controller"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
)

// every runs f every interval until stop is closed, counting the runs.
func every(interval time.Duration, stop <-chan struct{}, f func()) *atomic.Int32 {
	var n atomic.Int32
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				f()
				n.Add(1)
			}
		}
	}()
	return &n
}

// rabbitEnv reads an integer setting of the running broker, or def.
func rabbitEnv(key, def string) string {
	out, err := rabbitmq.Ctl("eval", "application:get_env(rabbit, "+key+").")
	if m := regexp.MustCompile(`\{ok,(\d+)\}`).FindSubmatch(out); err == nil && m != nil {
		return string(m[1])
	}
	return def
}

func rabbitmqctl(args ...string) {
	_, err := rabbitmq.Ctl(args...)
	Expect(err).NotTo(HaveOccurred())
}

var _ = Describe("Faults", Ordered, func() {
	crashScenario := func(name, chaos string) {
		It(name, func() {
			scenario(name, func(r *result) {
				op := startProcess("crash", chaos)
				defer op.stop()
				l := startLoad(sagasPerRun, "5s", customerOf)
				finish(r, l, 3*time.Minute)
				r.faults += op.crashCount()
			})
		})
	}
	crashScenario("operator killed after a status write, before the publish", "after-status-write=0.1")
	crashScenario("operator killed after the publish, before the reply is recorded", "after-publish=0.1")
	crashScenario("operator killed after receiving a reply, before acknowledging it", "reply-received=0.05,before-ack=0.1")

	It("broker connections reset in the middle of a burst", func() {
		scenario("broker connections reset mid-burst", func(r *result) {
			op := startProcess("resets", "")
			defer op.stop()
			stop := make(chan struct{})
			resets := every(300*time.Millisecond, stop, proxy.Reset)
			l := startLoad(sagasPerRun, "5s", customerOf)
			finish(r, l, 3*time.Minute)
			close(stop)
			r.faults += int(resets.Load())
		})
	})

	It("broker restarted in the middle of a run", func() {
		scenario("broker restarted mid-run", func(r *result) {
			op := startProcess("restart", "")
			defer op.stop()
			l := startLoad(sagasPerRun, "5s", customerOf)
			Eventually(func() int { return len(book.of(string(l.sagas[len(l.sagas)-1].UID))) }).Should(BeNumerically(">=", 1))
			rabbitmqctl("stop_app")
			Expect(rabbitmq.StartApp()).To(Succeed())
			r.faults++
			finish(r, l, 3*time.Minute)
		})
	})

	It("apiserver writes fail and conflict while replies are applied", func() {
		scenario("apiserver write failures and conflicts (20%)", func(r *result) {
			var failed atomic.Int32
			fail := func() error {
				if rand.Float64() >= 0.2 { //nolint:gosec // fault dice
					return nil
				}
				failed.Add(1)
				if rand.IntN(2) == 0 { //nolint:gosec // fault dice
					return apierrors.NewConflict(schema.GroupResource{Group: "orders.ordersaga.io", Resource: "ordersagas"}, "x", nil)
				}
				return apierrors.NewInternalError(context.DeadlineExceeded)
			}
			wrap := func(c client.Client) client.Client {
				return interceptor.NewClient(withWatch{c}, interceptor.Funcs{
					Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
						if err := fail(); err != nil {
							return err
						}
						return c.Patch(ctx, obj, p, opts...)
					},
					SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
						if err := fail(); err != nil {
							return err
						}
						return c.SubResource(sub).Patch(ctx, obj, p, opts...)
					},
				})
			}
			op := startInProcess(wrap, nil)
			defer op.stop()
			l := startLoad(sagasPerRun, "5s", customerOf)
			finish(r, l, 3*time.Minute)
			r.faults += int(failed.Load())
		})
	})

	It("replies arrive before the status recording their dispatch is in the cache", func() {
		scenario("stale cache reads (30% of reads a version behind)", func(r *result) {
			stale := newStaleReads(0.3)
			publishes := newPublishCounter()
			op := startInProcess(stale.wrap, publishes.wrap)
			defer op.stop()
			l := startLoad(sagasPerRun, "5s", customerOf)
			finish(r, l, 3*time.Minute)
			r.faults += stale.served()
			// A stale read must never send a message twice.
			if again := publishes.repeated(); again > 0 {
				r.doubled += again
				AddReportEntry(r.scenario, "messages published more than once")
			}
		})
	})

	It("two replicas with leader election, the leader paused past its lease", func() {
		scenario("leader paused past its lease, then resumed", func(r *result) {
			lease := []string{"--leader-elect", "--leader-election-namespace=default",
				"--leader-elect-lease-duration=3s", "--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=500ms"}
			deleteLease()
			leader := startProcess("leader", "", lease...)
			defer leader.stop()
			Eventually(leaseHolder).ShouldNot(BeEmpty())
			first := leaseHolder()
			standby := startProcess("standby", "", lease...)
			defer standby.stop()

			l := startLoad(sagasPerRun, "5s", customerOf)
			Eventually(func() int { return len(book.of(string(l.sagas[0].UID))) }).Should(BeNumerically(">=", 1))
			leader.pause()
			Eventually(leaseHolder).WithTimeout(30 * time.Second).ShouldNot(Equal(first))
			leader.resume() // it acts on what it knew until it notices, then exits
			r.faults++
			finish(r, l, 3*time.Minute)
		})
	})

	It("a compensation that is lost is retried", func() {
		scenario("compensation messages lost", func(r *result) {
			lostBefore := crew.lostCompensations()
			crew.lossyCompensations.Store(true)
			defer crew.lossyCompensations.Store(false)
			op := startProcess("lossy", "")
			defer op.stop()
			// Only compensating sagas, so that every run loses messages.
			l := startLoad(sagasPerRun, "2s", func(i int) string {
				if i%2 == 0 {
					return customerDeclined
				}
				return customerFarAway
			})
			finish(r, l, 3*time.Minute)
			r.faults += crew.lostCompensations() - lostBefore
		})
	})

	It("a compensation that keeps failing stalls the saga until the retry annotation", func() {
		scenario("compensation failing until a person retries", func(r *result) {
			crew.unstuck.Store(false)
			op := startProcess("stuck", "")
			defer op.stop()
			l := startLoad(sagasPerRun, "2s", func(i int) string {
				if i%4 == 0 {
					return customerStuck
				}
				return customerOf(i)
			})
			final := l.waitFinal(3 * time.Minute)
			for _, s := range final {
				if s.Spec.Order.Customer.ID != customerStuck {
					continue
				}
				r.faults++
				Expect(s.Status.Phase).To(Equal(ordersv1alpha1.PhaseFailed))
				Expect(s.Status.Conditions).To(ContainElement(And(
					HaveField("Type", ordersv1alpha1.ConditionStalled), HaveField("Status", metav1.ConditionTrue))))
			}
			crew.unstuck.Store(true)
			token := time.Now().Format(time.RFC3339Nano)
			for i, s := range l.sagas {
				if l.customers[i] != customerStuck {
					continue
				}
				patch := client.MergeFrom(s.DeepCopy())
				metav1.SetMetaDataAnnotation(&s.ObjectMeta, ordersv1alpha1.RetryAnnotation, token)
				Expect(k8sClient.Patch(ctx, s, patch)).To(Succeed())
				l.customers[i] = customerDeclined // now expected Compensated
				// A Failed saga is final: wait until the operator has taken the
				// request, or waiting for final phases would end at once.
				Eventually(func(g Gomega) {
					got := &ordersv1alpha1.OrderSaga{}
					g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), got)).To(Succeed())
					g.Expect(got.Status.LastHandledRetry).To(Equal(token))
				}).Should(Succeed())
			}
			finish(r, l, 3*time.Minute)
		})
	})

	It("a participant slower than the broker's consumer timeout", func() {
		scenario("participant slower than the consumer timeout", func(r *result) {
			// A 2s consumer timeout, checked every second, on channels opened
			// from now on: close every connection so that all reopen.
			timeout, tick := rabbitEnv("consumer_timeout", "1800000"), rabbitEnv("channel_tick_interval", "60000")
			rabbitmqctl("eval", "application:set_env(rabbit, consumer_timeout, 2000), application:set_env(rabbit, channel_tick_interval, 1000).")
			defer func() {
				rabbitmqctl("eval", fmt.Sprintf("application:set_env(rabbit, consumer_timeout, %s), application:set_env(rabbit, channel_tick_interval, %s).", timeout, tick))
				rabbitmqctl("close_all_connections", "restoring the consumer timeout")
			}()
			rabbitmqctl("await_startup") // another suite may have restarted the shared broker
			rabbitmqctl("close_all_connections", "applying a short consumer timeout")
			crew.slow.Store(int64(3 * time.Second))
			defer crew.slow.Store(0)
			op := startProcess("slow", "")
			defer op.stop()
			before := crew.consumerTimeouts.Load()
			l := startLoad(max(sagasPerRun/4, 2), "20s", customerOf)
			finish(r, l, 4*time.Minute)
			timeouts := int(crew.consumerTimeouts.Load() - before)
			Expect(timeouts).To(BeNumerically(">", 0), "the broker never timed a consumer out: the scenario tested nothing")
			r.faults += timeouts
		})
	})
})

// leaseHolder returns who holds the operator's leader election lease.
func leaseHolder() string {
	lease := &coordinationv1.Lease{}
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: "default", Name: "ordersaga-operator.ordersaga.io"}, lease); err != nil {
		return ""
	}
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

func deleteLease() {
	_ = k8sClient.Delete(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "default",
		Name: "ordersaga-operator.ordersaga.io"}})
}

// staleReads serves, for a share of the reconciler's Gets, the version of
// the saga it saw before, as a lagging informer cache would.
type staleReads struct {
	p     float64
	mu    sync.Mutex
	seen  map[client.ObjectKey]*ordersv1alpha1.OrderSaga
	count atomic.Int32
}

func newStaleReads(p float64) *staleReads {
	return &staleReads{p: p, seen: map[client.ObjectKey]*ordersv1alpha1.OrderSaga{}}
}

func (s *staleReads) served() int { return int(s.count.Load()) }

func (s *staleReads) wrap(c client.Client) client.Client {
	return interceptor.NewClient(withWatch{c}, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			saga, ok := obj.(*ordersv1alpha1.OrderSaga)
			if !ok {
				return c.Get(ctx, key, obj, opts...)
			}
			s.mu.Lock()
			previous := s.seen[key]
			s.mu.Unlock()
			if previous != nil && rand.Float64() < s.p { //nolint:gosec // fault dice
				previous.DeepCopyInto(saga)
				s.count.Add(1)
				return nil
			}
			if err := c.Get(ctx, key, obj, opts...); err != nil {
				return err
			}
			s.mu.Lock()
			s.seen[key] = saga.DeepCopy()
			s.mu.Unlock()
			return nil
		},
	})
}

// publishCounter counts the publishes of each message id.
type publishCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func newPublishCounter() *publishCounter { return &publishCounter{counts: map[string]int{}} }

func (p *publishCounter) wrap(inner controller.CommandPublisher) controller.CommandPublisher {
	return countingPublisher{inner: inner, counter: p}
}

func (p *publishCounter) repeated() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.counts {
		n += c - 1
	}
	return n
}

type countingPublisher struct {
	inner   controller.CommandPublisher
	counter *publishCounter
}

func (c countingPublisher) Publish(ctx context.Context, exchange, key string, msg amqpconn.Message) error {
	err := c.inner.Publish(ctx, exchange, key, msg)
	if err == nil {
		c.counter.mu.Lock()
		c.counter.counts[msg.MessageID]++
		c.counter.mu.Unlock()
	}
	return err
}

func (c countingPublisher) UnavailableSince() time.Time { return c.inner.UnavailableSince() }

// withWatch lets interceptor wrap a manager's client, which cannot watch;
// the reconciler never does.
type withWatch struct{ client.Client }

func (withWatch) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, errors.New("watch is not supported")
}
