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

package participant_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/internal/rabbittest"
	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// The promises docs/protocol.md makes about duplicates, late commands,
// compensations that overtake their command, and several instances.

// awaitReplies waits for n replies and returns them by correlation id.
func (o *fakeOperator) awaitReplies(g *WithT, n int) map[string][]protocol.Reply {
	var got []gotReply
	g.Eventually(func() int { got = append(got, o.collect(o.ch)...); return len(got) }).Should(Equal(n))
	g.Consistently(func() []gotReply { return o.collect(o.ch) }, 200*time.Millisecond).Should(BeEmpty(), "no more than %d replies", n)
	byID := map[string][]protocol.Reply{}
	for _, r := range got {
		byID[r.CorrelationID] = append(byID[r.CorrelationID], r.Reply)
	}
	return byID
}

// A copy of a command, or a retried attempt of it, that arrives while the
// command is being handled waits for it (one saga's commands are handled
// one at a time) and is answered from its record: the work is done once,
// and every copy gets a reply.
func TestADuplicateOfACommandInProgressIsAnsweredFromItsRecord(t *testing.T) {
	g := NewWithT(t)
	o := newFakeOperator(t)
	started, release := make(chan struct{}, 10), make(chan struct{})
	var calls atomic.Int32
	startParticipant(t, o, func(p *participant.Participant) {
		p.Handle("ReserveInventory", func(context.Context, *participant.Command) (participant.Result, error) {
			calls.Add(1)
			started <- struct{}{}
			<-release
			return participant.Result{"reservationId": "res-1"}, nil
		})
	})
	g.Expect(o.send(o.ch, "m-1", "reserve", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	g.Eventually(started).Should(Receive())
	g.Expect(o.send(o.ch, "m-1", "reserve", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	g.Expect(o.send(o.ch, "m-2", "reserve", protocol.KindCommand, "ReserveInventory", 2)).To(Succeed())
	g.Consistently(started, 300*time.Millisecond).ShouldNot(Receive(), "the copies wait for the first")
	close(release)

	replies := o.awaitReplies(g, 3)
	g.Expect(calls.Load()).To(BeEquivalentTo(1))
	g.Expect(replies["m-1"]).To(HaveLen(2))
	g.Expect(replies["m-2"]).To(HaveLen(1))
	for _, r := range append(replies["m-1"], replies["m-2"]...) {
		g.Expect(r.Status).To(Equal(protocol.StatusSucceeded))
		g.Expect(r.Result).To(HaveKeyWithValue("reservationId", protocol.String("res-1")))
	}
}

// A compensation that arrives while its command is still running waits for
// the command to finish, then undoes it, with the command's outcome at hand
// (the operator, which timed the command out, sends no result of it).
func TestACompensationWaitsForItsRunningCommandAndUndoesIt(t *testing.T) {
	g := NewWithT(t)
	o := newFakeOperator(t)
	started, release := make(chan struct{}, 1), make(chan struct{})
	var reserved, released atomic.Int32
	var afterCommand atomic.Bool
	var undone atomic.Value
	startParticipant(t, o, func(p *participant.Participant) {
		p.Handle("ReserveInventory", func(context.Context, *participant.Command) (participant.Result, error) {
			started <- struct{}{}
			<-release
			reserved.Add(1)
			return participant.Result{"reservationId": "res-1", "units": 2}, nil
		})
		p.Compensate("ReleaseInventory", func(_ context.Context, cmd *participant.Command) (participant.Result, error) {
			afterCommand.Store(reserved.Load() == 1)
			if cmd.CommandOutcome != nil {
				undone.Store(cmd.CommandOutcome.Result)
			}
			released.Add(1)
			return nil, nil
		})
	})
	g.Expect(o.send(o.ch, "m-1", "reserve", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	g.Eventually(started).Should(Receive())
	g.Expect(o.send(o.ch, "c-1", "reserve", protocol.KindCompensation, "ReleaseInventory", 1)).To(Succeed())
	g.Consistently(released.Load, 300*time.Millisecond).Should(BeZero(), "the compensation waits")
	close(release)

	replies := o.awaitReplies(g, 2)
	g.Expect(replies["m-1"]).To(ConsistOf(HaveField("Status", protocol.StatusSucceeded)))
	g.Expect(replies["c-1"]).To(ConsistOf(HaveField("Status", protocol.StatusSucceeded)))
	g.Expect(released.Load()).To(BeEquivalentTo(1))
	g.Expect(afterCommand.Load()).To(BeTrue(), "the compensation ran after its command")
	g.Expect(undone.Load()).To(Equal(protocol.Result{"reservationId": protocol.String("res-1"), "units": protocol.Int(2)}))
}

// A command started after its deadline is not run: the reply is retryable
// (CommandExpired) and nothing is recorded, so a copy sent again with a new
// deadline (as the operator does after an outage) runs.
func TestAnExpiredCommandIsNotRun(t *testing.T) {
	g := NewWithT(t)
	o := newFakeOperator(t)
	var calls atomic.Int32
	startParticipant(t, o, func(p *participant.Participant) {
		p.Handle("ReserveInventory", func(context.Context, *participant.Command) (participant.Result, error) {
			calls.Add(1)
			return nil, nil
		})
	})
	g.Expect(o.sendUntil(o.ch, "m-1", "reserve", protocol.KindCommand, "ReserveInventory", 1, time.Now().Add(-time.Second))).To(Succeed())
	replies := o.awaitReplies(g, 1)
	g.Expect(replies["m-1"]).To(ConsistOf(And(HaveField("Status", protocol.StatusRetryable),
		HaveField("Reason", participant.ReasonCommandExpired))))
	g.Expect(calls.Load()).To(BeZero())

	g.Expect(o.send(o.ch, "m-1", "reserve", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	replies = o.awaitReplies(g, 1)
	g.Expect(replies["m-1"]).To(ConsistOf(HaveField("Status", protocol.StatusSucceeded)))
	g.Expect(calls.Load()).To(BeEquivalentTo(1))
}

// Two instances that share a queue the operator declared with single active
// consumer (the Participant's spec.singleActiveConsumer): one takes every
// command, the other takes over when it stops.
func TestSingleActiveConsumerKeepsOneInstanceConsuming(t *testing.T) {
	g := NewWithT(t)
	o := newFakeOperatorWith(t, amqp.Table{amqp.SingleActiveConsumerArg: true})
	var first, second atomic.Int32
	handler := func(n *atomic.Int32) participant.Handler {
		return func(context.Context, *participant.Command) (participant.Result, error) { n.Add(1); return nil, nil }
	}
	opts := participant.Options{CommandExchange: o.exchange}
	stopFirst := startParticipantWith(t, opts, func(p *participant.Participant) { p.Handle("ReserveInventory", handler(&first)) })
	startParticipantWith(t, opts, func(p *participant.Participant) { p.Handle("ReserveInventory", handler(&second)) })
	for i, step := range []string{"a", "b", "c", "d"} {
		g.Expect(o.send(o.ch, "m-"+step, step, protocol.KindCommand, "ReserveInventory", int32(i+1))).To(Succeed())
	}
	o.awaitReplies(g, 4)
	g.Expect(first.Load()).To(BeEquivalentTo(4), "the first instance is the active one")
	g.Expect(second.Load()).To(BeZero())

	stopFirst()
	g.Expect(o.send(o.ch, "m-e", "e", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	o.awaitReplies(g, 1)
	g.Expect(second.Load()).To(BeEquivalentTo(1), "the second took over")
}

// A participant may start before the operator has registered it: it
// declares nothing, says it is not registered, and starts consuming once
// the operator has declared and bound its queue.
func TestAParticipantStartedBeforeItIsRegisteredWaitsForItsQueue(t *testing.T) {
	g := NewWithT(t)
	o := newFakeOperatorWithoutExchange(t, rabbittest.Name("early"))
	var logged sync.Map
	opts := participant.Options{URL: brokerURL(), Service: "inventory", CommandExchange: o.exchange, Concurrency: 2,
		Log: funcr.New(func(_, args string) { logged.Store(args, true) }, funcr.Options{})}
	p, err := participant.New(opts)
	g.Expect(err).NotTo(HaveOccurred())
	p.Handle("ReserveInventory", func(context.Context, *participant.Command) (participant.Result, error) { return nil, nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	notRegistered := func() bool {
		found := false
		logged.Range(func(k, _ any) bool {
			found = found || strings.Contains(k.(string), "participant inventory is not registered")
			return !found
		})
		return found
	}
	g.Eventually(notRegistered).WithTimeout(10*time.Second).Should(BeTrue(), "it says why it does not consume")
	g.Expect(p.Ready()).To(BeFalse())
	probe, err := amqp.Dial(brokerURL())
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = probe.Close() }()
	probeCh, err := probe.Channel()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(probeCh.ExchangeDeclarePassive(o.exchange, amqp.ExchangeTopic, true, false, false, false, nil)).NotTo(Succeed(),
		"it declared no exchange")

	g.Expect(o.ch.ExchangeDeclare(o.exchange, amqp.ExchangeTopic, true, false, false, false, nil)).To(Succeed())
	o.register(g, nil)
	g.Eventually(p.Ready).WithTimeout(30 * time.Second).Should(BeTrue())
	g.Expect(o.send(o.ch, "m-1", "reserve", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	g.Expect(o.awaitReplies(g, 1)["m-1"]).To(ConsistOf(HaveField("Status", protocol.StatusSucceeded)))
}

// With OperatorUser set, only commands the operator's broker user published
// (user_id, which RabbitMQ validates) are carried out: anyone allowed to
// write to the default exchange could put a message in the queue.
func TestOnlyTheOperatorsCommandsAreCarriedOut(t *testing.T) {
	g := NewWithT(t)
	o := newFakeOperator(t)
	var calls atomic.Int32
	opts := participant.Options{CommandExchange: o.exchange, OperatorUser: "guest"}
	startParticipantWith(t, opts, func(p *participant.Participant) {
		p.Handle("ReserveInventory", func(context.Context, *participant.Command) (participant.Result, error) {
			calls.Add(1)
			return nil, nil
		})
	})

	g.Expect(o.send(o.ch, "m-anonymous", "reserve", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	g.Consistently(o.collect, 500*time.Millisecond).WithArguments(o.ch).Should(BeEmpty(), "a command without the operator's user_id gets no reply")
	g.Expect(calls.Load()).To(BeZero())

	o.userID = "guest"
	g.Expect(o.send(o.ch, "m-operator", "reserve", protocol.KindCommand, "ReserveInventory", 1)).To(Succeed())
	g.Expect(o.awaitReplies(g, 1)["m-operator"]).To(ConsistOf(HaveField("Status", protocol.StatusSucceeded)))
	g.Expect(calls.Load()).To(BeEquivalentTo(1))
}
