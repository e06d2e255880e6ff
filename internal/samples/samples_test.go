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

package samples

import (
	"context"
	"errors"
	"testing"

	"github.com/ordersaga/ordersaga-operator/sdk/participant"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func command(key, amount string, items ...protocol.LineItem) *participant.Command {
	return &participant.Command{Command: protocol.Command{IdempotencyKey: key, Step: "step",
		Order: protocol.Order{ID: "ORD-1", Items: items, Total: protocol.Money{Amount: amount, Currency: "EUR"}}}}
}

func failureReason(err error) string {
	if f, ok := errors.AsType[*participant.Failure](err); ok {
		return f.Reason
	}
	return ""
}

func TestInventoryReservesAndReleases(t *testing.T) {
	inv := NewInventory(Options{Stock: 5})
	ctx := context.Background()
	res, err := inv.reserve(ctx, command("k1", "1", protocol.LineItem{SKU: "MUG", Quantity: 3}))
	if err != nil || inv.Stock("MUG") != 2 {
		t.Fatalf("reserve: %v, stock %d", err, inv.Stock("MUG"))
	}
	if _, err := inv.reserve(ctx, command("k2", "1", protocol.LineItem{SKU: "MUG", Quantity: 3})); failureReason(err) != "OutOfStock" {
		t.Fatalf("want OutOfStock, got %v", err)
	}
	release := command("k1c", "1")
	release.Results = map[string]protocol.Result{"step": values(t, res)}
	for range 2 { // releasing twice restores the stock once
		if _, err := inv.release(ctx, release); err != nil {
			t.Fatal(err)
		}
	}
	if inv.Stock("MUG") != 5 {
		t.Fatalf("stock %d after release, want 5", inv.Stock("MUG"))
	}
}

func TestPaymentDeclinesAboveTheLimitAndRefunds(t *testing.T) {
	pay, err := NewPayment(Options{PaymentLimit: "1000.00"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		amount string
		reason string
	}{{"999.99", ""}, {"1000.00", ""}, {"1000.01", "CardDeclined"}, {"2697.00", "CardDeclined"}}
	for _, tt := range tests {
		_, err := pay.charge(ctx, command("k-"+tt.amount, tt.amount))
		if failureReason(err) != tt.reason {
			t.Errorf("charge %s: got %v, want reason %q", tt.amount, err, tt.reason)
		}
	}
	if pay.Charged() != 2 {
		t.Fatalf("charged %d, want 2", pay.Charged())
	}
	res, _ := pay.charge(ctx, command("k-refund", "10.00"))
	refund := command("k-refund-c", "10.00")
	refund.Results = map[string]protocol.Result{"step": values(t, res)}
	if _, err := pay.refund(ctx, refund); err != nil || pay.Charged() != 2 {
		t.Fatalf("refund: %v, charged %d", err, pay.Charged())
	}
	if _, err := NewPayment(Options{PaymentLimit: "lots"}); err == nil {
		t.Fatal("a limit that is not a decimal is refused")
	}
}

func TestFailureRateOfOneAlwaysFailsRetryably(t *testing.T) {
	sh := NewShipping(Options{FailureRate: 1})
	_, err := sh.schedule(context.Background(), command("k", "1"))
	if f, ok := errors.AsType[*participant.Failure](err); !ok || !f.Retryable || f.Reason != "FlakyDependency" {
		t.Fatalf("want a retryable FlakyDependency, got %v", err)
	}
}

func values(t *testing.T, r participant.Result) protocol.Result {
	t.Helper()
	v, err := r.Values()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
