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

// Command sample-services runs the demo's order services (inventory,
// payment, shipping) as saga participants and, with --orders, the sample
// order service, which submits orders over the bus and prints the lifecycle
// events of its namespace (docs/events.md).
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ordersaga/ordersaga-operator/internal/samples"
	"github.com/ordersaga/ordersaga-operator/internal/tracing"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func main() {
	url := flag.String("broker-url", "amqp://guest:guest@127.0.0.1:5672/", "AMQP URL of the broker.")
	urlFile := flag.String("broker-url-file", "", "File holding the AMQP URL; overrides --broker-url.")
	exchange := flag.String("command-exchange", protocol.CommandExchange(protocol.DefaultTopologyPrefix),
		"The operator's command exchange (<topology prefix>.commands).")
	services := flag.String("services", "inventory,payment,shipping", "Services to run.")
	var opts samples.Options
	flag.StringVar(&opts.PaymentLimit, "payment-limit", "1000.00", "Charges above this amount are declined.")
	flag.Float64Var(&opts.FailureRate, "failure-rate", 0, "Probability (0 to 1) that a command fails with a retryable error.")
	flag.DurationVar(&opts.Latency, "latency", 0, "Latency added to every command.")
	flag.DurationVar(&opts.ShippingLatency, "shipping-latency", 0, "Latency added to shipping commands.")
	flag.IntVar(&opts.Stock, "stock", 1000, "Initial stock of every SKU.")
	flag.StringVar(&opts.OperatorUser, "operator-user", "", "Broker user of the operator: commands from any other user are dropped (empty: take every command).")
	orders := flag.Int("orders", 0, "Orders the sample order service submits over the bus (template checkout); 0 runs no order service.")
	orderNamespace := flag.String("order-namespace", "default", "Namespace the order service starts sagas in (one of the operator's --start-namespaces).")
	prefix := flag.String("topology-prefix", protocol.DefaultTopologyPrefix, "The operator's topology prefix, for the order service.")
	otlpEndpoint := flag.String("otlp-endpoint", "", "OTLP/gRPC endpoint (host:port) to export trace spans to; empty exports none.")
	otlpInsecure := flag.Bool("otlp-insecure", false, "Export spans without TLS.")
	zapOpts := zap.Options{Development: true}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	log := zap.New(zap.UseFlagOptions(&zapOpts))

	if *urlFile != "" {
		raw, err := os.ReadFile(*urlFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "read broker URL file:", err)
			os.Exit(1)
		}
		*url = strings.TrimSpace(string(raw))
	}
	stopTracing, err := tracing.Setup(context.Background(), *otlpEndpoint, "ordersaga-sample-services", *otlpInsecure)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer func() { _ = stopTracing(context.Background()) }()
	s, err := samples.Start(*url, *exchange, strings.Split(*services, ","), opts, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	log.Info("Sample services running", "services", *services, "queues", s.Queues())
	if *orders > 0 {
		svc, err := samples.StartOrderService(*url, *prefix, *orderNamespace, os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer func() { _ = svc.Close() }()
		submitOrders(svc, *orders)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	log.Info("Shutting down")
	s.Stop()
}

// submitOrders submits n orders of one widget each and prints the replies.
func submitOrders(svc *samples.OrderService, n int) {
	batch := rand.Text()[:6]
	for i := range n {
		order := protocol.Order{ID: fmt.Sprintf("ORD-%s-%d", batch, i), Customer: protocol.Customer{ID: "CUST-42"},
			Items: []protocol.LineItem{{SKU: "WIDGET-1", Quantity: 1, UnitPrice: "19.99"}},
			Total: protocol.Money{Amount: "19.99", Currency: "EUR"}}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		reply, err := svc.Submit(ctx, "checkout", order)
		cancel()
		switch {
		case err != nil:
			fmt.Printf("order %s: %v\n", order.ID, err)
		case reply.Error != nil:
			fmt.Printf("order %s refused: %s\n", order.ID, samples.FailureError(reply.Error))
		default:
			fmt.Printf("order %s -> saga %s/%s uid %s\n", order.ID, reply.Namespace, reply.Name, reply.UID)
		}
	}
}
