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
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/gomega"

	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/registry"
	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func runtimeCPUs() int { return runtime.NumCPU() }

// Customers decide what the participants do with a saga.
const (
	customerOK       = "CUST-OK"
	customerDeclined = "CUST-DECLINED" // payment refuses: inventory is compensated
	customerFarAway  = "CUST-FAR"      // shipping refuses: payment and inventory are compensated
	customerStuck    = "CUST-STUCK"    // payment refuses, and releasing the stock fails until unstuck
)

// effect is one handler call that took effect.
type effect struct {
	step string
	kind protocol.Kind
	at   time.Time
}

// ledger records every effect the participants produced, per saga uid.
type ledger struct {
	mu      sync.Mutex
	effects map[string][]effect
}

func newLedger() *ledger { return &ledger{effects: map[string][]effect{}} }

func (l *ledger) record(cmd *participant.Command) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.effects[cmd.Saga.UID] = append(l.effects[cmd.Saga.UID], effect{step: cmd.Step, kind: cmd.Kind, at: time.Now()})
}

func (l *ledger) of(uid string) []effect {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]effect(nil), l.effects[uid]...)
}

// participants are the three services, on the participant SDK, recording
// their effects in the ledger. Their modes change per scenario.
type participants struct {
	list   []*participant.Participant
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// lossyCompensations makes the first call of every compensation hang
	// past its deadline, as if the message were lost.
	lossyCompensations atomic.Bool
	// unstuck lets the stuck customer's stock be released.
	unstuck atomic.Bool
	// slow makes every command take this long (nanoseconds).
	slow atomic.Int64

	// consumerTimeouts counts the channels the broker closed because a
	// delivery was not acknowledged in time.
	consumerTimeouts atomic.Int32

	mu       sync.Mutex
	attempts map[string]int // idempotency key → handler calls
}

func startParticipants() *participants {
	pctx, stop := context.WithCancel(context.Background())
	p := &participants{cancel: stop, attempts: map[string]int{}}
	services := map[string][2]string{
		"inventory": {"ReserveInventory", "ReleaseInventory"},
		"payment":   {"ChargePayment", "RefundPayment"},
		"shipping":  {"ScheduleShipment", "CancelShipment"},
	}
	for service, commands := range services {
		Expect(registry.Register(ctx, k8sClient, topology.CommandExchange(),
			fixtures.NewParticipant(service, "guest", commands[:1], commands[1:]))).To(Succeed())
		sp, err := participant.New(participant.Options{URL: rabbitmq.BrokerURL(), Service: service,
			CommandExchange: topology.CommandExchange(), Concurrency: 8, Log: p.logger()})
		Expect(err).NotTo(HaveOccurred())
		sp.Handle(commands[0], p.command(service))
		sp.Compensate(commands[1], p.compensation(service))
		p.list = append(p.list, sp)
		p.wg.Go(func() { _ = sp.Run(pctx) })
	}
	Eventually(func() bool {
		for _, sp := range p.list {
			if !sp.Ready() {
				return false
			}
		}
		return true
	}).Should(BeTrue())
	return p
}

// logger counts, from the SDK's log, the channels closed by the broker's
// consumer timeout.
func (p *participants) logger() logr.Logger {
	return funcr.New(func(_, args string) {
		if strings.Contains(args, "PRECONDITION_FAILED") && strings.Contains(args, "timed out") {
			p.consumerTimeouts.Add(1)
		}
	}, funcr.Options{})
}

func (p *participants) calls(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts[key]++
	return p.attempts[key]
}

func (p *participants) work(ctx context.Context) {
	if d := time.Duration(p.slow.Load()); d > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(d): // simulated work
		}
	}
}

func (p *participants) command(service string) participant.Handler {
	return func(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
		p.work(ctx)
		customer := cmd.Order.Customer.ID
		switch {
		case service == "payment" && (customer == customerDeclined || customer == customerStuck):
			return nil, participant.Fail("CardDeclined", "declined")
		case service == "shipping" && customer == customerFarAway:
			return nil, participant.Fail("NoCarrier", "no carrier")
		}
		book.record(cmd)
		return participant.Result{"id": service + "-" + cmd.Order.ID}, nil
	}
}

func (p *participants) compensation(service string) participant.Handler {
	return func(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
		p.work(ctx)
		if p.lossyCompensations.Load() && p.calls(cmd.IdempotencyKey) == 1 {
			<-ctx.Done() // hangs past the operator's deadline: the reply comes too late
			return nil, participant.Retry("Lost", "lost")
		}
		if service == "inventory" && cmd.Order.Customer.ID == customerStuck && !p.unstuck.Load() {
			return nil, participant.Retry("WarehouseOffline", "the warehouse is offline")
		}
		book.record(cmd)
		return nil, nil
	}
}

// lostCompensations counts the compensations whose first call was "lost".
func (p *participants) lostCompensations() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, calls := range p.attempts {
		if calls >= 1 {
			n++
		}
	}
	return n
}

func (p *participants) stop() {
	p.cancel()
	p.wg.Wait()
}
