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

// Package storetest checks that a participant.Store keeps the contract the
// participant relies on. Call Run from a test of the Store's package (and
// RunTx for a participant.TxStore), with a function that opens a new, empty
// store:
//
//	func TestStoreContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) participant.Store { return openEmptyStore(t) })
//	}
package storetest

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Run runs the contract of participant.Store against stores that open
// returns, a new empty one for each subtest.
func Run(t *testing.T, open func(t *testing.T) participant.Store) {
	t.Helper()
	for _, c := range contract {
		t.Run(c.name, func(t *testing.T) { c.test(storeCase{t, open(t)}) })
	}
}

// storeCase is one check of the contract on a new empty store.
type storeCase struct {
	t *testing.T
	s participant.Store
}

var contract = []struct {
	name string
	test func(storeCase)
}{
	{"NothingIsRecordedAtFirst", storeCase.nothingIsRecordedAtFirst},
	{"AFinalReplyIsRecordedForItsMessageAndItsKey", storeCase.aFinalReplyIsRecordedForItsMessageAndItsKey},
	{"ARetryableReplyIsRecordedForItsMessageOnly", storeCase.aRetryableReplyIsRecordedForItsMessageOnly},
	{"AReplyWithoutKeyIsRecordedForItsMessageOnly", storeCase.aReplyWithoutKeyIsRecordedForItsMessageOnly},
	{"TheLastReplyToAMessageIsKept", storeCase.theLastReplyToAMessageIsKept},
	{"TheFirstFinalOutcomeOfAKeyWins", storeCase.theFirstFinalOutcomeOfAKeyWins},
	{"RecordOutcomeIfAbsentKeepsTheFirst", storeCase.recordOutcomeIfAbsentKeepsTheFirst},
	{"ConcurrentRecordsOfAKeyAgreeOnOneOutcome", storeCase.concurrentRecordsOfAKeyAgreeOnOneOutcome},
	{"MessagesAndKeysDoNotMix", storeCase.messagesAndKeysDoNotMix},
	{"RepliesComeBackExactly", storeCase.repliesComeBackExactly},
}

// stepKey is the idempotency key of a step's command, as the protocol
// makes it.
const stepKey = "uid/step/command/0"

var (
	ctx       = context.Background()
	succeeded = protocol.Reply{Status: protocol.StatusSucceeded, Result: protocol.Result{"reservationId": protocol.String("res-1")}}
	declined  = protocol.Reply{Status: protocol.StatusFailed, Reason: "CardDeclined", Message: "above the card's limit"}
	retryable = protocol.Reply{Status: protocol.StatusRetryable, Reason: "GatewayTimeout", Message: "no answer"}
)

func (c storeCase) nothingIsRecordedAtFirst() {
	t, s := c.t, c.s
	expectNoReply(t, s, "m-1")
	expectNoOutcome(t, s, stepKey)
}

func (c storeCase) aFinalReplyIsRecordedForItsMessageAndItsKey() {
	t, s := c.t, c.s
	for i, reply := range []protocol.Reply{succeeded, declined} {
		id, key := fmt.Sprintf("m-%d", i), fmt.Sprintf("uid/step-%d/command/0", i)
		must(t, s.Record(ctx, id, key, reply))
		expectReply(t, s, id, reply)
		expectOutcome(t, s, key, reply)
	}
}

func (c storeCase) aRetryableReplyIsRecordedForItsMessageOnly() {
	t, s := c.t, c.s
	must(t, s.Record(ctx, "m-1", stepKey, retryable))
	expectReply(t, s, "m-1", retryable)
	expectNoOutcome(t, s, stepKey)
}

func (c storeCase) aReplyWithoutKeyIsRecordedForItsMessageOnly() {
	t, s := c.t, c.s
	must(t, s.Record(ctx, "m-1", "", succeeded))
	expectReply(t, s, "m-1", succeeded)
	expectNoOutcome(t, s, "")
}

func (c storeCase) theLastReplyToAMessageIsKept() {
	t, s := c.t, c.s
	must(t, s.Record(ctx, "m-1", stepKey, retryable))
	must(t, s.Record(ctx, "m-1", stepKey, succeeded))
	expectReply(t, s, "m-1", succeeded)
	expectOutcome(t, s, stepKey, succeeded)
}

func (c storeCase) theFirstFinalOutcomeOfAKeyWins() {
	t, s := c.t, c.s
	key := stepKey
	must(t, s.Record(ctx, "m-1", key, succeeded))
	must(t, s.Record(ctx, "m-2", key, declined))
	expectOutcome(t, s, key, succeeded)
	expectReply(t, s, "m-2", declined) // the message's own reply is what it was given
	got, err := s.RecordOutcomeIfAbsent(ctx, key, declined)
	must(t, err)
	expectEqual(t, "RecordOutcomeIfAbsent after Record", got, succeeded)
}

func (c storeCase) recordOutcomeIfAbsentKeepsTheFirst() {
	t, s := c.t, c.s
	key := stepKey
	got, err := s.RecordOutcomeIfAbsent(ctx, key, declined)
	must(t, err)
	expectEqual(t, "first RecordOutcomeIfAbsent", got, declined)
	got, err = s.RecordOutcomeIfAbsent(ctx, key, succeeded)
	must(t, err)
	expectEqual(t, "second RecordOutcomeIfAbsent", got, declined)
	expectOutcome(t, s, key, declined)
	expectNoReply(t, s, key) // an outcome is no message's reply
}

func (c storeCase) concurrentRecordsOfAKeyAgreeOnOneOutcome() {
	t, s := c.t, c.s
	key := stepKey
	const n = 16
	got := make([]protocol.Reply, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			outcome := protocol.Reply{Status: protocol.StatusSucceeded, Result: protocol.Result{"writer": protocol.Int(int64(i))}}
			got[i], errs[i] = s.RecordOutcomeIfAbsent(ctx, key, outcome)
		})
	}
	wg.Wait()
	for i := range n {
		must(t, errs[i])
		expectEqual(t, fmt.Sprintf("writer %d's answer", i), got[i], got[0])
	}
	expectOutcome(t, s, key, got[0])
}

func (c storeCase) messagesAndKeysDoNotMix() {
	t, s := c.t, c.s
	same := stepKey
	must(t, s.Record(ctx, same, "other-key", succeeded))
	expectNoOutcome(t, s, same)
	if _, err := s.RecordOutcomeIfAbsent(ctx, "k", declined); err != nil {
		t.Fatal(err)
	}
	expectNoReply(t, s, "k")
}

func (c storeCase) repliesComeBackExactly() {
	t, s := c.t, c.s
	price, err := protocol.ValueOf(protocol.TypeNumber, "2.50")
	must(t, err)
	big, err := protocol.ValueOf(protocol.TypeNumber, "1E+3")
	must(t, err)
	reply := protocol.Reply{Status: protocol.StatusSucceeded, Reason: "Done", Message: "réservé: 2 × «SKU-1»", Result: protocol.Result{
		"price": price, "big": big, "units": protocol.Int(-7), "captured": protocol.Bool(true), "id": protocol.String(`a "quoted" \\ id`),
	}}
	key := "5f0c-ü/步骤/command/3"
	must(t, s.Record(ctx, "m-ü", key, reply))
	expectReply(t, s, "m-ü", reply)
	expectOutcome(t, s, key, reply)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func expectEqual(t *testing.T, what string, got, want protocol.Reply) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

func expectReply(t *testing.T, s participant.Store, messageID string, want protocol.Reply) {
	t.Helper()
	got, ok, err := s.Reply(ctx, messageID)
	must(t, err)
	if !ok {
		t.Fatalf("no reply recorded for message %q", messageID)
	}
	expectEqual(t, "reply to "+messageID, got, want)
}

func expectNoReply(t *testing.T, s participant.Store, messageID string) {
	t.Helper()
	got, ok, err := s.Reply(ctx, messageID)
	must(t, err)
	if ok {
		t.Fatalf("message %q has a reply recorded: %+v", messageID, got)
	}
}

func expectOutcome(t *testing.T, s participant.Store, key string, want protocol.Reply) {
	t.Helper()
	got, ok, err := s.Outcome(ctx, key)
	must(t, err)
	if !ok {
		t.Fatalf("no outcome recorded for key %q", key)
	}
	expectEqual(t, "outcome of "+key, got, want)
}

func expectNoOutcome(t *testing.T, s participant.Store, key string) {
	t.Helper()
	got, ok, err := s.Outcome(ctx, key)
	must(t, err)
	if ok {
		t.Fatalf("key %q has an outcome recorded: %+v", key, got)
	}
}
