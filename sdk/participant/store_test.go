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
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/gomega"

	"github.com/ordersaga/ordersaga-operator/sdk/internal/fakeoperator"
	"github.com/ordersaga/ordersaga-operator/sdk/internal/rabbittest"
	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/participant/storetest"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func TestMemoryStoreKeepsTheStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) participant.Store { return participant.NewMemoryStore(0) })
}

// A participant left with the default MemoryStore says, once, that a crash
// can double an effect; sdk/pgstore's tests show that one with a persistent
// store does not.
func TestAParticipantWithTheMemoryStoreWarnsOnceAtStart(t *testing.T) {
	g := NewWithT(t)
	o := fakeoperator.New(t)
	o.DeclareQueue(t, "inventory", "ReserveInventory")
	var warnings atomic.Int32
	p, err := participant.New(participant.Options{URL: rabbittest.BrokerURL(), Service: "inventory", CommandExchange: o.Exchange,
		Log: funcr.New(func(_, args string) {
			if strings.Contains(args, "kept in memory only") {
				warnings.Add(1)
			}
		}, funcr.Options{})})
	g.Expect(err).NotTo(HaveOccurred())
	p.Handle("ReserveInventory", func(context.Context, *participant.Command) (participant.Result, error) { return nil, nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	for _, id := range []string{"m-1", "m-2"} {
		g.Expect(o.Send(fakeoperator.Command{ID: id, Service: "inventory", Name: "ReserveInventory", SagaUID: "6a1f0a3e-3c39-4a3b-9d0e-2f5b8c7d1e40", Step: "step-" + id})).To(Succeed())
	}
	var replies []fakeoperator.Reply
	g.Eventually(func() ([]fakeoperator.Reply, error) {
		r, err := o.Collect()
		replies = append(replies, r...)
		return replies, err
	}).WithTimeout(10 * time.Second).Should(HaveLen(2))
	g.Expect(replies).To(HaveEach(HaveField("Status", protocol.StatusSucceeded)))
	g.Expect(warnings.Load()).To(BeEquivalentTo(1))
}
