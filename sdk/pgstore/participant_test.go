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

package pgstore_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	. "github.com/onsi/gomega"

	"github.com/ordersaga/ordersaga-operator/sdk/internal/fakeoperator"
	"github.com/ordersaga/ordersaga-operator/sdk/internal/pgtest"
	"github.com/ordersaga/ordersaga-operator/sdk/internal/rabbittest"
	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/pgstore"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// The transactional API through a real participant: the test plays the
// operator on the local RabbitMQ, the participant records in the local
// PostgreSQL, and its handlers charge by inserting rows into a table of
// their own in the command's transaction. The table has no unique key:
// counting its rows counts the effects.

// service is a payment service's database: its charges and its store.
type service struct {
	pool  *pgxpool.Pool
	store *pgstore.Store
	url   string
}

func newService(t *testing.T) *service {
	t.Helper()
	pool, url := pgtest.NewPool(t, 10)
	store, err := pgstore.New(ctx, pool, pgstore.Options{Schema: "payment"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE charges (key text NOT NULL, message_id text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return &service{pool: pool, store: store, url: url}
}

// charges returns how many times key was charged.
func (s *service) charges(g Gomega, key string) int {
	var n int
	g.Expect(s.pool.QueryRow(ctx, `SELECT count(*) FROM charges WHERE key = $1`, key).Scan(&n)).To(Succeed())
	return n
}

// charge is the effect: a row in the command's transaction.
func charge(ctx context.Context, cmd *participant.Command) error {
	tx, ok := pgstore.Tx(ctx)
	if !ok {
		return participant.Fail("NoTransaction", "the handler's context carries no transaction")
	}
	_, err := tx.Exec(ctx, `INSERT INTO charges (key, message_id) VALUES ($1, $2)`, cmd.IdempotencyKey, cmd.MessageID)
	return err
}

// logLines collects a participant's log lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(prefix, args string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, prefix+" "+args)
}

func (l *logLines) containing(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// startPayment runs a payment participant on store until the test ends.
func startPayment(t *testing.T, o *fakeoperator.Operator, store participant.Store, opts participant.Options,
	setup func(*participant.Participant)) (stop func(), logs *logLines) {
	t.Helper()
	logs = &logLines{}
	opts.URL, opts.Service, opts.CommandExchange, opts.Store = rabbittest.BrokerURL(), "payment", o.Exchange, store
	opts.Log = funcr.New(logs.add, funcr.Options{})
	p, err := participant.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	setup(p)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(runCtx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	NewWithT(t).Eventually(p.Ready).WithTimeout(10 * time.Second).Should(BeTrue())
	return stop, logs
}

// awaitReplies waits for n replies, no more, and returns them by
// correlation id.
func awaitReplies(g Gomega, o *fakeoperator.Operator, n int) map[string][]protocol.Reply {
	var got []fakeoperator.Reply
	collect := func() []fakeoperator.Reply {
		r, err := o.Collect()
		g.Expect(err).NotTo(HaveOccurred())
		return r
	}
	g.Eventually(func() int { got = append(got, collect()...); return len(got) }).WithTimeout(10 * time.Second).Should(Equal(n))
	g.Consistently(collect, 200*time.Millisecond).Should(BeEmpty(), "no more than %d replies", n)
	byID := map[string][]protocol.Reply{}
	for _, r := range got {
		byID[r.CorrelationID] = append(byID[r.CorrelationID], r.Reply)
	}
	return byID
}

func paymentCommand(id, uid, step string, attempt int32) fakeoperator.Command {
	return fakeoperator.Command{ID: id, Service: "payment", Name: "ChargePayment", SagaUID: uid, Step: step, Attempt: attempt}
}

func TestAHandlersWritesCommitWithTheRecordOfItsOutcome(t *testing.T) {
	g := NewWithT(t)
	o := fakeoperator.New(t)
	o.DeclareQueue(t, "payment", "ChargePayment")
	svc := newService(t)
	var calls atomic.Int32
	commitErr := make(chan error, 1)
	_, logs := startPayment(t, o, svc.store, participant.Options{}, func(p *participant.Participant) {
		p.Handle("ChargePayment", func(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
			calls.Add(1)
			tx, _ := pgstore.Tx(ctx)
			select {
			case commitErr <- tx.Commit(ctx):
			default:
			}
			return participant.Result{"chargeId": "ch-" + cmd.MessageID}, charge(ctx, cmd)
		})
	})
	uid := uuid.NewString()
	key := protocol.IdempotencyKey(uid, "charge", protocol.KindCommand, 0)
	g.Expect(o.Send(paymentCommand("m-1", uid, "charge", 1))).To(Succeed())
	g.Expect(awaitReplies(g, o, 1)["m-1"]).To(ConsistOf(HaveField("Result", HaveKeyWithValue("chargeId", protocol.String("ch-m-1")))))
	g.Expect(svc.charges(g, key)).To(Equal(1))
	g.Expect(<-commitErr).To(MatchError(pgstore.ErrCommittedBySDK), "the SDK, not the handler, ends the transaction")
	outcome, ok, err := svc.store.Outcome(ctx, key)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
	g.Expect(outcome.Result).To(HaveKeyWithValue("chargeId", protocol.String("ch-m-1")))

	// A copy of the message, and the next attempt: answered from the record.
	g.Expect(o.Send(paymentCommand("m-1", uid, "charge", 1))).To(Succeed())
	g.Expect(o.Send(paymentCommand("m-2", uid, "charge", 2))).To(Succeed())
	replies := awaitReplies(g, o, 2)
	for _, id := range []string{"m-1", "m-2"} {
		g.Expect(replies[id]).To(ConsistOf(HaveField("Result", HaveKeyWithValue("chargeId", protocol.String("ch-m-1")))))
	}
	g.Expect(calls.Load()).To(BeEquivalentTo(1))
	g.Expect(svc.charges(g, key)).To(Equal(1))
	g.Expect(logs.containing("kept in memory only")).To(BeEmpty(), "no warning with a persistent store")
}

func TestAFailedHandlersWritesAreUndoneAndItsOutcomeKept(t *testing.T) {
	g := NewWithT(t)
	o := fakeoperator.New(t)
	o.DeclareQueue(t, "payment", "ChargePayment")
	svc := newService(t)
	var calls atomic.Int32
	startPayment(t, o, svc.store, participant.Options{}, func(p *participant.Participant) {
		p.Handle("ChargePayment", func(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
			calls.Add(1)
			if err := charge(ctx, cmd); err != nil {
				return nil, err
			}
			switch cmd.Step {
			case "declined":
				return nil, participant.Fail("CardDeclined", "above the limit")
			case "panics":
				panic("gateway client corrupt")
			default: // an object is no valid result value
				return participant.Result{"receipt": []string{"a"}}, nil
			}
		})
	})
	uid := uuid.NewString()
	g.Expect(o.Send(paymentCommand("m-declined", uid, "declined", 1))).To(Succeed())
	g.Expect(o.Send(paymentCommand("m-panics", uid, "panics", 1))).To(Succeed())
	g.Expect(o.Send(paymentCommand("m-invalid", uid, "invalid", 1))).To(Succeed())
	replies := awaitReplies(g, o, 3)
	g.Expect(replies["m-declined"]).To(ConsistOf(HaveField("Reason", "CardDeclined")))
	g.Expect(replies["m-panics"]).To(ConsistOf(HaveField("Reason", participant.ReasonHandlerPanic)))
	g.Expect(replies["m-invalid"]).To(ConsistOf(HaveField("Reason", participant.ReasonInvalidResult)))
	for _, step := range []string{"declined", "panics", "invalid"} {
		key := protocol.IdempotencyKey(uid, step, protocol.KindCommand, 0)
		g.Expect(svc.charges(g, key)).To(BeZero(), "a failed command has no effect: %s", step)
		outcome, ok, err := svc.store.Outcome(ctx, key)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(ok).To(BeTrue(), "a final failure is recorded: %s", step)
		g.Expect(outcome.Status).To(Equal(protocol.StatusFailed))
	}
	g.Expect(o.Send(paymentCommand("m-declined-2", uid, "declined", 2))).To(Succeed())
	g.Expect(awaitReplies(g, o, 1)["m-declined-2"]).To(ConsistOf(HaveField("Reason", "CardDeclined")))
	g.Expect(calls.Load()).To(BeEquivalentTo(3), "the next attempt is answered from the record")
}

func TestARetryableFailureIsRolledBackAndRecordsNothing(t *testing.T) {
	g := NewWithT(t)
	o := fakeoperator.New(t)
	o.DeclareQueue(t, "payment", "ChargePayment")
	svc := newService(t)
	var calls atomic.Int32
	startPayment(t, o, svc.store, participant.Options{}, func(p *participant.Participant) {
		p.Handle("ChargePayment", func(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
			calls.Add(1)
			if err := charge(ctx, cmd); err != nil {
				return nil, err
			}
			if cmd.Attempt == 1 {
				return nil, participant.Retry("GatewayTimeout", "no answer")
			}
			return participant.Result{"chargeId": "ch-1"}, nil
		})
	})
	uid := uuid.NewString()
	key := protocol.IdempotencyKey(uid, "charge", protocol.KindCommand, 0)
	g.Expect(o.Send(paymentCommand("m-1", uid, "charge", 1))).To(Succeed())
	g.Expect(awaitReplies(g, o, 1)["m-1"]).To(ConsistOf(HaveField("Status", protocol.StatusRetryable)))
	g.Expect(svc.charges(g, key)).To(BeZero())
	_, recorded, err := svc.store.Outcome(ctx, key)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(recorded).To(BeFalse())
	_, recorded, err = svc.store.Reply(ctx, "m-1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(recorded).To(BeFalse(), "a retryable reply is not recorded: a copy runs again")

	g.Expect(o.Send(paymentCommand("m-2", uid, "charge", 2))).To(Succeed())
	g.Expect(awaitReplies(g, o, 1)["m-2"]).To(ConsistOf(HaveField("Status", protocol.StatusSucceeded)))
	g.Expect(svc.charges(g, key)).To(Equal(1))
	g.Expect(calls.Load()).To(BeEquivalentTo(2))
}

func TestAHandlerThatBreaksItsTransactionGetsARetryableReply(t *testing.T) {
	g := NewWithT(t)
	o := fakeoperator.New(t)
	o.DeclareQueue(t, "payment", "ChargePayment")
	svc := newService(t)
	startPayment(t, o, svc.store, participant.Options{}, func(p *participant.Participant) {
		p.Handle("ChargePayment", func(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
			if err := charge(ctx, cmd); err != nil {
				return nil, err
			}
			if cmd.Attempt == 1 {
				tx, _ := pgstore.Tx(ctx)
				_, _ = tx.Exec(ctx, `SELECT 1/0`) // the error is ignored, the transaction is not
			}
			return participant.Result{"chargeId": "ch-1"}, nil
		})
	})
	uid := uuid.NewString()
	key := protocol.IdempotencyKey(uid, "charge", protocol.KindCommand, 0)
	g.Expect(o.Send(paymentCommand("m-1", uid, "charge", 1))).To(Succeed())
	g.Expect(awaitReplies(g, o, 1)["m-1"]).To(ConsistOf(And(HaveField("Status", protocol.StatusRetryable),
		HaveField("Reason", participant.ReasonHandlerError), HaveField("Message", ContainSubstring("transaction failed")))))
	g.Expect(svc.charges(g, key)).To(BeZero())

	g.Expect(o.Send(paymentCommand("m-2", uid, "charge", 2))).To(Succeed())
	g.Expect(awaitReplies(g, o, 1)["m-2"]).To(ConsistOf(HaveField("Status", protocol.StatusSucceeded)))
	g.Expect(svc.charges(g, key)).To(Equal(1))
}

// The outcome is committed, but the reply cannot leave (its queue is
// gone): the participant stops without acknowledging the command, and the
// next one answers its redelivery from the record.
func TestACommandWhoseReplyWasNotSentAfterTheCommitIsAnsweredFromTheRecord(t *testing.T) {
	g := NewWithT(t)
	o := fakeoperator.New(t)
	queue := o.DeclareQueue(t, "payment", "ChargePayment")
	svc := newService(t)
	var calls atomic.Int32
	handler := func(p *participant.Participant) {
		p.Handle("ChargePayment", func(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
			calls.Add(1)
			return participant.Result{"chargeId": "ch-1"}, charge(ctx, cmd)
		})
	}
	stop, _ := startPayment(t, o, svc.store, participant.Options{}, handler)
	g.Expect(o.DeleteReplies()).To(Succeed())
	uid := uuid.NewString()
	key := protocol.IdempotencyKey(uid, "charge", protocol.KindCommand, 0)
	g.Expect(o.Send(paymentCommand("m-1", uid, "charge", 1))).To(Succeed())
	g.Eventually(func() bool { _, ok, _ := svc.store.Reply(ctx, "m-1"); return ok }).Should(BeTrue(), "committed")
	stop()
	g.Eventually(func() (int, error) { return o.Ready(queue) }).Should(Equal(1), "the command is back in the queue")

	g.Expect(o.DeclareReplies()).To(Succeed())
	startPayment(t, o, svc.store, participant.Options{}, handler)
	g.Expect(awaitReplies(g, o, 1)["m-1"]).To(ConsistOf(HaveField("Result", HaveKeyWithValue("chargeId", protocol.String("ch-1")))))
	g.Expect(calls.Load()).To(BeEquivalentTo(1))
	g.Expect(svc.charges(g, key)).To(Equal(1))
}

// Two instances of a service share a queue (no single active consumer)
// and a database. Each takes one command at a time, so that while the
// first holds a command, the broker gives the next to the second.
func TestTwoInstancesSharingTheDatabaseNeverBothRunAKey(t *testing.T) {
	g := NewWithT(t)
	o := fakeoperator.New(t)
	o.DeclareQueue(t, "payment", "ChargePayment", "RefundPayment")
	svc := newService(t)
	type start struct{ instance, messageID string }
	started := make(chan start, 10)
	release := map[string]chan struct{}{"charge": make(chan struct{}), "charge-again": make(chan struct{})}
	var released sync.Map
	releaseStep := func(step string) {
		if _, done := released.LoadOrStore(step, true); !done {
			close(release[step])
		}
	}
	var refundSaw atomic.Value
	instance := func(name string) func(*participant.Participant) {
		return func(p *participant.Participant) {
			p.Handle("ChargePayment", func(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
				started <- start{name, cmd.MessageID}
				<-release[cmd.Step]
				return participant.Result{"chargedBy": name}, charge(ctx, cmd)
			})
			p.Compensate("RefundPayment", func(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
				started <- start{name, cmd.MessageID}
				refundSaw.Store(cmd.CommandOutcome)
				return nil, nil
			})
		}
	}
	one := participant.Options{Concurrency: 1, Prefetch: 1}
	for _, name := range []string{"a", "b"} {
		// A store and a pool of its own, as another process would have.
		pool, err := pgxpool.New(ctx, svc.url)
		g.Expect(err).NotTo(HaveOccurred())
		t.Cleanup(pool.Close)
		store, err := pgstore.New(ctx, pool, pgstore.Options{Schema: "payment"})
		g.Expect(err).NotTo(HaveOccurred())
		startPayment(t, o, store, one, instance(name))
	}
	// A failed test ends the handlers it leaves waiting, before it stops
	// the participants (cleanups run last in, first out).
	t.Cleanup(func() { releaseStep("charge"); releaseStep("charge-again") })
	lockWaits := func() (int, error) {
		var n int
		err := svc.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		return n, err
	}
	uid := uuid.NewString()

	t.Log("the next attempt of a key in progress, on the other instance, waits for it and is answered from its record")
	g.Expect(o.Send(paymentCommand("m-1", uid, "charge", 1))).To(Succeed())
	var first start
	g.Eventually(started).Should(Receive(&first))
	g.Expect(o.Send(paymentCommand("m-2", uid, "charge", 2))).To(Succeed())
	g.Eventually(lockWaits).Should(Equal(1), "the other instance waits for the key")
	g.Consistently(started, 300*time.Millisecond).ShouldNot(Receive())
	releaseStep("charge")
	replies := awaitReplies(g, o, 2)
	for _, id := range []string{"m-1", "m-2"} {
		g.Expect(replies[id]).To(ConsistOf(HaveField("Result", HaveKeyWithValue("chargedBy", protocol.String(first.instance)))))
	}
	g.Expect(started).NotTo(Receive(), "the charge ran once")
	g.Expect(svc.charges(g, protocol.IdempotencyKey(uid, "charge", protocol.KindCommand, 0))).To(Equal(1))

	t.Log("a compensation on the other instance does not record its tombstone before the command's outcome is known")
	g.Expect(o.Send(paymentCommand("m-3", uid, "charge-again", 1))).To(Succeed())
	g.Eventually(started).Should(Receive(&first))
	g.Expect(o.Send(fakeoperator.Command{ID: "c-3", Service: "payment", Name: "RefundPayment", SagaUID: uid,
		Step: "charge-again", Kind: protocol.KindCompensation})).To(Succeed())
	g.Eventually(lockWaits).Should(Equal(1), "the compensation waits for the command's key")
	g.Consistently(started, 300*time.Millisecond).ShouldNot(Receive())
	releaseStep("charge-again")
	replies = awaitReplies(g, o, 2)
	g.Expect(replies["m-3"]).To(ConsistOf(HaveField("Status", protocol.StatusSucceeded)))
	g.Expect(replies["c-3"]).To(ConsistOf(HaveField("Status", protocol.StatusSucceeded)))
	var refund start
	g.Eventually(started).Should(Receive(&refund))
	g.Expect(refund.messageID).To(Equal("c-3"))
	saw, _ := refundSaw.Load().(*protocol.Reply)
	g.Expect(saw).NotTo(BeNil(), "the refund found the charge it undoes")
	g.Expect(saw.Result).To(HaveKeyWithValue("chargedBy", protocol.String(first.instance)))
}
