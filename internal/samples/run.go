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
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/ordersaga/ordersaga-operator/sdk/participant"
)

// Services are the sample services running as participants.
type Services struct {
	Inventory *Inventory
	Payment   *Payment
	Shipping  *Shipping

	participants []*participant.Participant
	cancel       context.CancelFunc
	wg           sync.WaitGroup
}

// Start runs the named services ("inventory", "payment", "shipping") as
// participants on the broker, until Stop.
func Start(url, commandExchange string, names []string, opts Options, log logr.Logger) (*Services, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Services{cancel: cancel}
	for _, name := range names {
		p, err := participant.New(participant.Options{URL: url, Service: name, CommandExchange: commandExchange,
			OperatorUser: opts.OperatorUser, Log: log.WithName(name)})
		if err != nil {
			cancel()
			return nil, err
		}
		switch name {
		case "inventory":
			s.Inventory = NewInventory(opts)
			s.Inventory.Register(p)
		case "payment":
			if s.Payment, err = NewPayment(opts); err != nil {
				cancel()
				return nil, err
			}
			s.Payment.Register(p)
		case "shipping":
			s.Shipping = NewShipping(opts)
			s.Shipping.Register(p)
		default:
			cancel()
			return nil, fmt.Errorf("unknown sample service %q (inventory, payment, shipping)", name)
		}
		s.participants = append(s.participants, p)
		s.wg.Go(func() { _ = p.Run(ctx) })
	}
	return s, nil
}

// WaitReady waits until every service consumes its queue.
func (s *Services) WaitReady(ctx context.Context) error {
	for {
		ready := true
		for _, p := range s.participants {
			ready = ready && p.Ready()
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sample services not ready: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Queues returns the services' queue names.
func (s *Services) Queues() []string {
	out := make([]string, len(s.participants))
	for i, p := range s.participants {
		out[i] = p.Queue()
	}
	return out
}

// Stop shuts the services down gracefully.
func (s *Services) Stop() {
	s.cancel()
	s.wg.Wait()
}
