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

// Package samples holds the sample order services of the demo, built on the
// participant SDK: inventory (reserve and release stock), payment (charge and
// refund, declining charges above a limit) and shipping (schedule and cancel,
// with a configurable latency). They keep their state in memory.
package samples

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ordersaga/ordersaga-operator/sdk/participant"
)

// Options tune the sample services, so that a user can watch retries and
// compensation happen.
type Options struct {
	// PaymentLimit: charges above it are declined ("CardDeclined").
	PaymentLimit string
	// FailureRate is the probability, from 0 to 1, that a command fails
	// with a retryable error ("FlakyDependency") before doing anything.
	FailureRate float64
	// Latency is added to every command.
	Latency time.Duration
	// ShippingLatency is added to shipping commands on top of Latency.
	ShippingLatency time.Duration
	// Stock is the initial stock of every SKU.
	Stock int
	// OperatorUser, when set, is the broker user of the operator: commands
	// from any other user are dropped (participant.Options.OperatorUser).
	OperatorUser string
}

// shortID derives a stable id from an idempotency key, so that a replayed
// command gets the same id.
func shortID(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + "-" + hex.EncodeToString(sum[:5])
}

// chaos applies the latency and the failure rate of the options.
func (o Options) chaos(ctx context.Context, extra time.Duration) error {
	if d := o.Latency + extra; d > 0 {
		select {
		case <-ctx.Done():
			return participant.Retry("Timeout", "gave up waiting: %v", ctx.Err())
		case <-time.After(d): // simulated work
		}
	}
	if o.FailureRate > 0 && rand.Float64() < o.FailureRate { //nolint:gosec // a demo's dice
		return participant.Retry("FlakyDependency", "a dependency failed (failure rate %.2f)", o.FailureRate)
	}
	return nil
}

// Inventory reserves and releases stock.
type Inventory struct {
	opts         Options
	mu           sync.Mutex
	stock        map[string]int
	reservations map[string]map[string]int // reservation id → SKU → quantity
}

// NewInventory returns an inventory with opts.Stock units of every SKU.
func NewInventory(opts Options) *Inventory {
	return &Inventory{opts: opts, stock: map[string]int{}, reservations: map[string]map[string]int{}}
}

// Register adds the inventory's handlers to a participant.
func (inv *Inventory) Register(p *participant.Participant) {
	p.Handle("ReserveInventory", inv.reserve)
	p.Compensate("ReleaseInventory", inv.release)
}

func (inv *Inventory) available(sku string) int {
	if n, ok := inv.stock[sku]; ok {
		return n
	}
	return inv.opts.Stock
}

func (inv *Inventory) reserve(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
	if err := inv.opts.chaos(ctx, 0); err != nil {
		return nil, err
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	for _, it := range cmd.Order.Items {
		if inv.available(it.SKU) < int(it.Quantity) {
			return nil, participant.Fail("OutOfStock", "%d of %s wanted, %d in stock", it.Quantity, it.SKU, inv.available(it.SKU))
		}
	}
	id := shortID("res", cmd.IdempotencyKey)
	held := map[string]int{}
	for _, it := range cmd.Order.Items {
		inv.stock[it.SKU] = inv.available(it.SKU) - int(it.Quantity)
		held[it.SKU] += int(it.Quantity)
	}
	inv.reservations[id] = held
	return participant.Result{"reservationId": id}, nil
}

func (inv *Inventory) release(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
	if err := inv.opts.chaos(ctx, 0); err != nil {
		return nil, err
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	id := cmd.StepResult(cmd.Step, "reservationId")
	for sku, n := range inv.reservations[id] {
		inv.stock[sku] = inv.available(sku) + n
	}
	delete(inv.reservations, id) // nothing held (already released, never reserved) is fine
	return nil, nil
}

// Stock returns the units in stock of a SKU.
func (inv *Inventory) Stock(sku string) int {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.available(sku)
}

// Payment charges and refunds.
type Payment struct {
	opts     Options
	limit    *big.Rat
	mu       sync.Mutex
	payments map[string]string // payment id → amount
}

// NewPayment returns a payment service that declines charges above opts.PaymentLimit.
func NewPayment(opts Options) (*Payment, error) {
	limit, ok := new(big.Rat).SetString(opts.PaymentLimit)
	if !ok {
		return nil, fmt.Errorf("payment limit %q is not a decimal", opts.PaymentLimit)
	}
	return &Payment{opts: opts, limit: limit, payments: map[string]string{}}, nil
}

// Register adds the payment's handlers to a participant.
func (pay *Payment) Register(p *participant.Participant) {
	p.Handle("ChargePayment", pay.charge)
	p.Compensate("RefundPayment", pay.refund)
}

func (pay *Payment) charge(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
	if err := pay.opts.chaos(ctx, 0); err != nil {
		return nil, err
	}
	amount, ok := new(big.Rat).SetString(cmd.Order.Total.Amount)
	if !ok {
		return nil, participant.Fail("InvalidAmount", "amount %q is not a decimal", cmd.Order.Total.Amount)
	}
	if amount.Cmp(pay.limit) > 0 {
		return nil, participant.Fail("CardDeclined", "%s %s is above the card's limit of %s",
			cmd.Order.Total.Amount, cmd.Order.Total.Currency, pay.opts.PaymentLimit)
	}
	id := shortID("pay", cmd.IdempotencyKey)
	pay.mu.Lock()
	defer pay.mu.Unlock()
	pay.payments[id] = cmd.Order.Total.Amount + " " + cmd.Order.Total.Currency
	return participant.Result{"paymentId": id}, nil
}

func (pay *Payment) refund(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
	if err := pay.opts.chaos(ctx, 0); err != nil {
		return nil, err
	}
	pay.mu.Lock()
	defer pay.mu.Unlock()
	delete(pay.payments, cmd.StepResult(cmd.Step, "paymentId"))
	return nil, nil
}

// Charged returns the payments not refunded.
func (pay *Payment) Charged() int {
	pay.mu.Lock()
	defer pay.mu.Unlock()
	return len(pay.payments)
}

// Shipping schedules and cancels shipments.
type Shipping struct {
	opts      Options
	mu        sync.Mutex
	shipments map[string]string // shipment id → order id
}

// NewShipping returns a shipping service.
func NewShipping(opts Options) *Shipping {
	return &Shipping{opts: opts, shipments: map[string]string{}}
}

// Register adds the shipping's handlers to a participant.
func (sh *Shipping) Register(p *participant.Participant) {
	p.Handle("ScheduleShipment", sh.schedule)
	p.Compensate("CancelShipment", sh.cancel)
}

func (sh *Shipping) schedule(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
	if err := sh.opts.chaos(ctx, sh.opts.ShippingLatency); err != nil {
		return nil, err
	}
	id := shortID("ship", cmd.IdempotencyKey)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.shipments[id] = cmd.Order.ID
	carrier := cmd.Param("carrier")
	if carrier == "" {
		carrier = "standard"
	}
	return participant.Result{"shipmentId": id, "carrier": carrier}, nil
}

func (sh *Shipping) cancel(ctx context.Context, cmd *participant.Command) (participant.Result, error) {
	if err := sh.opts.chaos(ctx, 0); err != nil {
		return nil, err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	delete(sh.shipments, cmd.StepResult(cmd.Step, "shipmentId"))
	return nil, nil
}
