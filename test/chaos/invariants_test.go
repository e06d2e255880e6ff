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
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// result is one row of the reliability table.
type result struct {
	scenario             string
	runs, sagas, faults  int
	lost, stuck, doubled int
	elapsed              time.Duration
}

// load is one run's sagas.
type load struct {
	namespace string
	sagas     []*ordersv1alpha1.OrderSaga
	customers []string
}

// customerOf gives saga i its customer: a mix of sagas that complete, that
// compensate one step, and that compensate two.
func customerOf(i int) string {
	switch {
	case i%5 == 0:
		return customerDeclined
	case i%7 == 0:
		return customerFarAway
	}
	return customerOK
}

// startLoad creates n sagas at once in a namespace of their own.
func startLoad(n int, timeout string, customer func(int) string) *load {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "chaos-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	l := &load{namespace: ns.Name, sagas: make([]*ordersv1alpha1.OrderSaga, n), customers: make([]string, n)}
	var wg sync.WaitGroup
	for i := range n {
		l.customers[i] = customer(i)
		wg.Go(func() {
			defer GinkgoRecover()
			s := fixtures.NewSaga(ns.Name, fmt.Sprintf("order-%03d", i))
			s.Spec.Order.Customer.ID = l.customers[i]
			s.Spec.Steps[2].Compensation = &ordersv1alpha1.Command{Name: "CancelShipment"}
			for j := range s.Spec.Steps {
				s.Spec.Steps[j].Timeout = ordersv1alpha1.Duration(timeout)
				s.Spec.Steps[j].Retry = ordersv1alpha1.RetryPolicy{MaxAttempts: 6, InitialDelay: "200ms", Factor: 2, MaxDelay: "2s"}
			}
			Expect(k8sClient.Create(ctx, s)).To(Succeed())
			l.sagas[i] = s
		})
	}
	wg.Wait()
	return l
}

func expectedPhase(customer string) ordersv1alpha1.SagaPhase {
	switch customer {
	case customerOK:
		return ordersv1alpha1.PhaseCompleted
	case customerStuck:
		return ordersv1alpha1.PhaseFailed
	default:
		return ordersv1alpha1.PhaseCompensated
	}
}

// waitFinal waits until every saga is final, or the time is up, and returns
// the sagas as they are then: a saga still not final counts as stuck.
func (l *load) waitFinal(within time.Duration) []*ordersv1alpha1.OrderSaga {
	var out []*ordersv1alpha1.OrderSaga
	// Time running out is a finding to count, not a test failure here.
	g := NewGomega(func(string, ...int) {})
	g.Eventually(func() bool {
		list := &ordersv1alpha1.OrderSagaList{}
		if err := k8sClient.List(ctx, list, client.InNamespace(l.namespace)); err != nil {
			return false
		}
		out = out[:0]
		final := 0
		for i := range list.Items {
			out = append(out, &list.Items[i])
			if list.Items[i].Status.Phase.IsFinal() {
				final++
			}
		}
		return final == len(l.sagas)
	}).WithTimeout(within).WithPolling(250 * time.Millisecond).Should(BeTrue())
	slices.SortFunc(out, func(a, b *ordersv1alpha1.OrderSaga) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// check verifies the invariants on the final sagas and the participants'
// ledger, and returns the counts of the reliability table:
//   - stuck: a saga not final, or final in a phase other than the one its
//     customer leads to;
//   - lost: an effect neither kept nor compensated (a step that took effect
//     in a compensated saga without being undone), a completed saga missing
//     an effect, or compensations out of reverse order;
//   - doubled: a command or compensation that took effect more than once.
func (l *load) check(final []*ordersv1alpha1.OrderSaga) (lost, stuck, doubled int, problems []string) {
	byName := map[string]*ordersv1alpha1.OrderSaga{}
	for _, s := range final {
		byName[s.Name] = s
	}
	for i, created := range l.sagas {
		s := byName[created.Name]
		want := expectedPhase(l.customers[i])
		if s == nil || s.Status.Phase != want {
			stuck++
			phase := ordersv1alpha1.SagaPhase("missing")
			if s != nil {
				phase = s.Status.Phase
			}
			problems = append(problems, fmt.Sprintf("%s is %s, want %s", created.Name, phase, want))
			continue
		}
		commands, compensations := map[string]int{}, map[string]int{}
		var undone []string
		for _, e := range book.of(string(s.UID)) {
			if e.kind == protocol.KindCommand {
				commands[e.step]++
			} else {
				compensations[e.step]++
				undone = append(undone, e.step)
			}
		}
		for _, step := range s.Spec.Steps {
			if commands[step.Name] > 1 || compensations[step.Name] > 1 {
				doubled++
				problems = append(problems, fmt.Sprintf("%s: step %s took effect %d times, undone %d times",
					s.Name, step.Name, commands[step.Name], compensations[step.Name]))
			}
			switch s.Status.Phase {
			case ordersv1alpha1.PhaseCompleted:
				if commands[step.Name] != 1 || compensations[step.Name] != 0 {
					lost++
					problems = append(problems, fmt.Sprintf("%s completed but step %s took effect %d times, undone %d",
						s.Name, step.Name, commands[step.Name], compensations[step.Name]))
				}
			case ordersv1alpha1.PhaseCompensated:
				if commands[step.Name] == 1 && compensations[step.Name] != 1 {
					lost++
					problems = append(problems, fmt.Sprintf("%s compensated but step %s took effect and was not undone", s.Name, step.Name))
				}
			}
		}
		// Compensations run in reverse step order.
		order := map[string]int{}
		for j, step := range s.Spec.Steps {
			order[step.Name] = j
		}
		for j := 1; j < len(undone); j++ {
			if order[undone[j]] >= order[undone[j-1]] {
				lost++
				problems = append(problems, fmt.Sprintf("%s: compensations out of reverse order: %v", s.Name, undone))
				break
			}
		}
	}
	return lost, stuck, doubled, problems
}

// scenario runs a fault scenario repeats times and records its row.
func scenario(name string, run func(r *result)) {
	r := result{scenario: name}
	start := time.Now()
	for range repeats {
		r.runs++
		run(&r)
	}
	r.elapsed = time.Since(start)
	results = append(results, r)
	Expect(r.lost+r.stuck+r.doubled).To(BeZero(), "%s: lost %d, stuck %d, doubled %d", name, r.lost, r.stuck, r.doubled)
}

// finish waits for a load, checks it and adds its counts to the row.
func finish(r *result, l *load, within time.Duration) {
	final := l.waitFinal(within)
	lost, stuck, doubled, problems := l.check(final)
	r.sagas += len(l.sagas)
	r.lost += lost
	r.stuck += stuck
	r.doubled += doubled
	for _, p := range problems {
		AddReportEntry(r.scenario, p)
		GinkgoWriter.Println(r.scenario + ": " + p)
	}
}
