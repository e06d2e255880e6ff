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

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/badheaders"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// floodP90RatioTarget bounds how much bad replies queued ahead of the valid
// ones may slow them (issue #11: they stopped every saga).
const floodP90RatioTarget = 4.0

// FloodResult is the latency of valid replies without bad ones and with
// bad ones queued just ahead of each, measured in rounds turn about.
type FloodResult struct {
	Rounds        int `json:"rounds"`
	SagasPerRound int `json:"sagasPerRound"`
	// Ahead is how many bad replies go just ahead of each valid reply in a
	// flooded round; BadReplies how many were sent in all, every one
	// dead-lettered as InvalidHeader.
	Ahead      int `json:"badRepliesAheadOfEach"`
	BadReplies int `json:"badReplies"`
	// Clean and Flooded are each valid reply's latency: from its leaving
	// the participant to the pass that applies it (the step's completedAt):
	// the broker, the reply router, the inbox and the work queue.
	Clean    Percentiles `json:"cleanReplySeconds"`
	Flooded  Percentiles `json:"floodedReplySeconds"`
	P50Ratio float64     `json:"p50Ratio"`
	P90Ratio float64     `json:"p90Ratio"`
	Target   float64     `json:"p90RatioTarget"`
	Pass     bool        `json:"pass"`
}

// flooder stands in the participants' command handlers during the flood
// run: it notes when each valid reply leaves, and in a flooded round first
// queues bad replies to the same command just ahead of it.
type flooder struct {
	ctx        context.Context // the bench's: publishes end with it
	ch         *amqp.Channel   // in confirm mode
	replyQueue string
	ahead      int

	mu      sync.Mutex
	flooded map[string]bool      // by namespace: the rounds with the flood
	replied map[string]time.Time // by saga uid and step
	sent    int
	err     error
}

// beforeReply runs in a participant's handler, just before its reply.
func (f *flooder) beforeReply(cmd *participant.Command) {
	f.mu.Lock()
	withFlood := f.flooded[cmd.Saga.Namespace]
	f.mu.Unlock()
	if withFlood {
		err := f.queueBad(cmd)
		f.mu.Lock()
		if f.err == nil {
			f.err = err // reported at the round's end
		}
		f.mu.Unlock()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replied[cmd.Saga.UID+"/"+cmd.Step] = time.Now() // the reply leaves right after
}

// queueBad publishes f.ahead replies to the command, each with one saga
// header forged, and waits until the broker has queued them all: then they
// are ahead of the valid reply.
func (f *flooder) queueBad(cmd *participant.Command) error {
	body, err := json.Marshal(protocol.Reply{Status: protocol.StatusSucceeded})
	if err != nil {
		return fmt.Errorf("encode a bad reply: %w", err)
	}
	headers := cmd.Headers.Table()
	confirms := make([]*amqp.DeferredConfirmation, 0, f.ahead)
	for range f.ahead {
		f.mu.Lock()
		n := f.sent
		f.sent++
		f.mu.Unlock()
		dc, err := f.ch.PublishWithDeferredConfirmWithContext(f.ctx, "", f.replyQueue, false, false, amqp.Publishing{
			MessageId: fmt.Sprintf("flood-%d", n), CorrelationId: cmd.MessageID, ContentType: protocol.ContentType,
			Headers: badheaders.Forge(headers, n), Body: body, DeliveryMode: amqp.Persistent,
		})
		if err != nil {
			return fmt.Errorf("publish a bad reply: %w", err)
		}
		confirms = append(confirms, dc)
	}
	for _, dc := range confirms {
		if !dc.Wait() {
			return errors.New("the broker refused a bad reply")
		}
	}
	return nil
}

// flood runs cfg.FloodRounds rounds of cfg.FloodSagas sagas without the
// flood and as many with it, turn about, so that the load of a shared
// machine weighs on both alike, and compares their replies' latency.
func (b *bench) flood(cfg Config) (*FloodResult, error) {
	conn, err := amqp.Dial(rabbitmq.BrokerURL())
	if err != nil {
		return nil, fmt.Errorf("dial the broker: %w", err)
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open a channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		return nil, fmt.Errorf("put the channel in confirm mode: %w", err)
	}
	f := &flooder{ctx: b.ctx, ch: ch, replyQueue: b.topology.ReplyQueue(), ahead: cfg.FloodAhead,
		flooded: map[string]bool{}, replied: map[string]time.Time{}}
	b.flooding.Store(f)
	defer b.flooding.Store(nil)
	var clean, flooded []float64
	for round := range cfg.FloodRounds {
		for k := range 2 {
			// Turn about: each round starts with the kind the last ended with.
			withFlood := (round+k)%2 == 1
			kind := "no bad replies"
			if withFlood {
				kind = fmt.Sprintf("%d bad replies ahead of each valid one", cfg.FloodAhead)
			}
			step(fmt.Sprintf("flood round %d: %d sagas, %s", round+1, cfg.FloodSagas, kind))
			latencies, err := b.floodRound(f, cfg.FloodSagas, withFlood)
			if err != nil {
				return nil, err
			}
			if withFlood {
				flooded = append(flooded, latencies...)
			} else {
				clean = append(clean, latencies...)
			}
		}
	}
	f.mu.Lock()
	res := &FloodResult{Rounds: cfg.FloodRounds, SagasPerRound: cfg.FloodSagas, Ahead: cfg.FloodAhead, BadReplies: f.sent}
	f.mu.Unlock()
	summarizeFlood(res, clean, flooded)
	return res, nil
}

// summarizeFlood fills the percentiles, their ratios and the verdict.
func summarizeFlood(res *FloodResult, clean, flooded []float64) {
	res.Clean, res.Flooded = percentiles(clean), percentiles(flooded)
	if res.Clean.P50 > 0 && res.Clean.P90 > 0 {
		res.P50Ratio, res.P90Ratio = res.Flooded.P50/res.Clean.P50, res.Flooded.P90/res.Clean.P90
	}
	res.Target = floodP90RatioTarget
	res.Pass = res.P90Ratio > 0 && res.P90Ratio <= res.Target
}

// floodRound runs n sagas at once in a namespace of their own, with or
// without the flood, and returns the latency of each of their replies. A
// flooded round ends once the operator has dead-lettered every bad reply
// as InvalidHeader, so that the next round runs without them.
func (b *bench) floodRound(f *flooder, n int, withFlood bool) ([]float64, error) {
	ns, err := b.namespace("flood")
	if err != nil {
		return nil, fmt.Errorf("create the round's namespace: %w", err)
	}
	f.mu.Lock()
	f.flooded[ns] = withFlood
	sentBefore := f.sent
	f.mu.Unlock()
	invalid := map[string]string{"reason": protocol.RejectInvalidHeader}
	before, err := b.scrape()
	if err != nil {
		return nil, fmt.Errorf("scrape the operator: %w", err)
	}
	_, allFinal, stop, err := b.watchFinal(ns, n)
	if err != nil {
		return nil, fmt.Errorf("watch the round's sagas: %w", err)
	}
	defer stop()
	if err := parallel(16, n, func(i int) error {
		return b.k8s.Create(b.ctx, smallSaga(ns, fmt.Sprintf("order-%03d", i), "CUST-OK"))
	}); err != nil {
		return nil, fmt.Errorf("create sagas: %w", err)
	}
	select {
	case <-allFinal:
	case <-b.ctx.Done():
		return nil, b.ctx.Err()
	case <-time.After(2 * time.Minute):
		return nil, errors.New("flood round's sagas not final after 2 minutes")
	}
	list := &ordersv1alpha1.OrderSagaList{}
	if err := b.k8s.List(b.ctx, list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("list the round's sagas: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []float64
	for _, s := range list.Items {
		if s.Status.Phase != ordersv1alpha1.PhaseCompleted {
			return nil, fmt.Errorf("saga %s/%s ended %s, not Completed", s.Namespace, s.Name, s.Status.Phase)
		}
		for _, rec := range s.Status.Steps {
			at, ok := f.replied[string(s.UID)+"/"+rec.Name]
			if !ok || rec.CompletedAt == nil {
				return nil, fmt.Errorf("saga %s/%s: step %s completed without a reply noted", s.Namespace, s.Name, rec.Name)
			}
			out = append(out, rec.CompletedAt.Sub(at).Seconds())
		}
	}
	if !withFlood {
		return out, nil
	}
	bad, deadLettered := f.sent-sentBefore, 0.0
	if err := waitFor(b.ctx, time.Minute, func() bool {
		after, err := b.scrape()
		if err != nil {
			return false
		}
		deadLettered = value(after, "ordersaga_replies_dead_lettered_total", invalid) -
			value(before, "ordersaga_replies_dead_lettered_total", invalid)
		return deadLettered >= float64(bad)
	}); err != nil {
		return nil, fmt.Errorf("of %d bad replies, %.0f dead-lettered as %s: %w", bad, deadLettered, protocol.RejectInvalidHeader, err)
	}
	return out, nil
}

// printFlood prints the flood run's rows and its target.
func printFlood(f *FloodResult, row func(name, value, target string)) {
	latency := func(p Percentiles) string { return fmt.Sprintf("%.1f / %.1f ms", p.P50*1000, p.P90*1000) }
	row(fmt.Sprintf("flood: reply → applied p50 / p90, no bad replies (%d rounds × %d sagas)", f.Rounds, f.SagasPerRound),
		latency(f.Clean), "")
	row(fmt.Sprintf("flood: reply → applied p50 / p90, %d bad replies ahead of each (%d in all, dead-lettered)", f.Ahead, f.BadReplies),
		latency(f.Flooded), "")
	row("flood: flooded ÷ no bad replies, p50 / p90", fmt.Sprintf("%.2f / %.2f", f.P50Ratio, f.P90Ratio), "")
	row("**target: reply p90, flooded ÷ no bad replies**", fmt.Sprintf("%.2f %s", f.P90Ratio, verdict(f.Pass)),
		fmt.Sprintf("≤ %.0f", f.Target))
}
