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

// Command demo shows the operator at work on a local control plane: it starts
// kube-apiserver and etcd (envtest), installs the CRD, runs the operator and
// the sample services against the local RabbitMQ, applies config/samples and
// follows the sagas until they are final. Then it shows them with kubectl,
// ending with kubectl saga tree of the compensated sample, and
// waits for Ctrl-C, or, with DEMO_EXIT=1, exits 0 only if every sample
// reached its expected phase. It removes everything it created on the way out.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/internal/operator"
	"github.com/ordersaga/ordersaga-operator/internal/sagactl"
	"github.com/ordersaga/ordersaga-operator/internal/samples"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/poll"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/registry"
	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// expected is the phase each sample must reach.
var expected = map[string]ordersv1alpha1.SagaPhase{
	"order-1001": ordersv1alpha1.PhaseCompleted,
	"order-1002": ordersv1alpha1.PhaseCompensated,
}

func main() {
	nonInteractive := os.Getenv("DEMO_EXIT") == "1" || os.Getenv("DEMO_EXIT") == "true"
	if err := run(nonInteractive); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// demo holds what the demo started, to tear it down.
type demo struct {
	dir      string
	env      *envtest.Environment
	kubectl  []string // the kubectl binary and its --kubeconfig flag
	k8s      client.Client
	topology broker.Topology
	services *samples.Services
	stopMgr  context.CancelFunc
	mgrDone  chan error
}

func run(nonInteractive bool) (err error) {
	// Ctrl-C at any point stops the demo and cleans up.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{}
	defer func() { err = errors.Join(err, d.teardown()) }()
	if err := d.start(ctx); err != nil {
		return err
	}
	fmt.Println("==> kubectl get participants")
	if err := d.showParticipants(ctx); err != nil {
		return err
	}
	fmt.Println("==> Applying config/samples")
	out, err := d.run("apply", "-k", filepath.Join(controlplane.RepoRoot(), "config", "samples"))
	if err != nil {
		return fmt.Errorf("kubectl apply: %w\n%s", err, out)
	}
	fmt.Print(out)

	fmt.Println("==> Following the sagas until they are final")
	phases, err := d.follow(ctx, 2*time.Minute)
	if err != nil {
		return err
	}
	fmt.Println("\n==> The order service submits an order over the bus (docs/events.md)")
	busPhase, err := d.orderOverTheBus(ctx)
	if err != nil {
		return err
	}
	fmt.Println("\n==> kubectl get osaga")
	out, _ = d.run("get", "osaga", "-o", "wide")
	fmt.Print(out)
	fmt.Println("\n==> kubectl get participants")
	out, _ = d.run("get", "participants")
	fmt.Print(out)
	fmt.Println("\n==> kubectl describe osaga order-1002")
	out, _ = d.run("describe", "osaga", "order-1002")
	fmt.Print(out)
	if err := d.showTree(ctx, "order-1002"); err != nil {
		return err
	}

	var wrong []string
	for name, want := range expected {
		if phases[name] != want {
			wrong = append(wrong, fmt.Sprintf("%s is %s, want %s", name, phases[name], want))
		}
	}
	if busPhase != ordersv1alpha1.PhaseCompleted {
		wrong = append(wrong, fmt.Sprintf("the bus order is %s, want %s", busPhase, ordersv1alpha1.PhaseCompleted))
	}
	if nonInteractive {
		if len(wrong) > 0 {
			return fmt.Errorf("samples did not reach their phases: %s", strings.Join(wrong, "; "))
		}
		fmt.Println("\n==> Every sample reached its expected phase")
		return nil
	}
	fmt.Printf("\n==> The control plane keeps running. Try:\n    %s get osaga\n", strings.Join(d.kubectl, " "))
	fmt.Println("    Press Ctrl-C to stop and clean up.")
	<-ctx.Done()
	fmt.Println("\n==> Stopping")
	return nil
}

// sampleNamespace is where config/samples puts the sagas.
const sampleNamespace = "default"

// showTree prints the saga as kubectl saga tree NAME -n default does, with
// the plugin's own rendering run in-process.
func (d *demo) showTree(ctx context.Context, name string) error {
	fmt.Printf("\n==> kubectl saga tree %s -n %s\n", name, sampleNamespace)
	saga := &ordersv1alpha1.OrderSaga{}
	if err := d.k8s.Get(ctx, client.ObjectKey{Namespace: sampleNamespace, Name: name}, saga); err != nil {
		return fmt.Errorf("get OrderSaga %s: %w", name, err)
	}
	return sagactl.PrintTree(os.Stdout, saga, time.Now())
}

func (d *demo) start(ctx context.Context) error {
	var err error
	if d.dir, err = os.MkdirTemp("", "ordersaga-demo-"); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(d.dir, "operator.log"))
	if err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logFile)))

	fmt.Println("==> Starting a local control plane (kube-apiserver and etcd, from envtest)")
	var cfg *rest.Config
	if d.env, cfg, err = controlplane.Start(); err != nil {
		return err
	}
	admin, err := d.env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add demo user: %w", err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	kubeconfigPath := filepath.Join(d.dir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return err
	}
	assets, _ := controlplane.AssetsDir()
	d.kubectl = []string{filepath.Join(assets, "kubectl"), "--kubeconfig", kubeconfigPath}
	fmt.Printf("    kubeconfig: %s\n    operator log: %s\n", kubeconfigPath, logFile.Name())

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = ordersv1alpha1.AddToScheme(scheme)
	if d.k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}

	// A topology of the demo's own, so that it never meets another operator
	// on the same broker.
	d.topology = broker.Topology{Prefix: "ordersaga-demo-" + rand.String(5)}
	fmt.Printf("==> Starting the operator (broker %s, topology %s.*)\n", amqpconn.RedactURL(rabbitmq.BrokerURL()), d.topology.Prefix)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Cache: operator.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	// The order service starts sagas in "default", where config/samples
	// puts the checkout template.
	op, err := operator.Setup(mgr, operator.Options{BrokerURL: rabbitmq.BrokerURL(), TopologyPrefix: d.topology.Prefix,
		StartNamespaces: []string{busNamespace}})
	if err != nil {
		return err
	}
	mgrCtx, stop := context.WithCancel(context.Background())
	d.stopMgr, d.mgrDone = stop, make(chan error, 1)
	go func() { d.mgrDone <- mgr.Start(mgrCtx) }()
	if err := poll.Until(ctx, 30*time.Second, op.Broker.Connected); err != nil {
		return fmt.Errorf("operator did not connect to the broker: %w", err)
	}

	fmt.Println("==> Registering the sample services (config/samples/participants.yaml)")
	out, err := d.run("apply", "-f", filepath.Join(controlplane.RepoRoot(), "config", "samples", "participants.yaml"))
	if err != nil {
		return fmt.Errorf("kubectl apply: %w\n%s", err, out)
	}
	fmt.Print(out)
	if err := registry.WaitBound(ctx, d.k8s, d.topology.CommandExchange(), "inventory", "payment", "shipping"); err != nil {
		return err
	}

	fmt.Println("==> Starting the sample services (inventory, payment declining above 1000.00, shipping)")
	d.services, err = samples.Start(rabbitmq.BrokerURL(), d.topology.CommandExchange(),
		[]string{"inventory", "payment", "shipping"},
		samples.Options{PaymentLimit: "1000.00", Stock: 1000, Latency: 700 * time.Millisecond,
			OperatorUser: amqpconn.URLUser(rabbitmq.BrokerURL())}, ctrl.Log.WithName("samples"))
	if err != nil {
		return err
	}
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return d.services.WaitReady(readyCtx)
}

// busNamespace is where the demo's order service starts sagas.
const busNamespace = "default"

// orderOverTheBus runs the sample order service: it sends a start message
// for an order (and the same order again, which finds the same saga), then
// follows the saga with queries until it is final, printing each change,
// and the lifecycle events of the namespace as they arrive. It returns the
// final phase.
func (d *demo) orderOverTheBus(ctx context.Context) (ordersv1alpha1.SagaPhase, error) {
	svc, err := samples.StartOrderService(rabbitmq.BrokerURL(), d.topology.Prefix, busNamespace, os.Stdout)
	if err != nil {
		return "", fmt.Errorf("order service: %w", err)
	}
	defer func() { _ = svc.Close() }()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	order := protocol.Order{ID: "ORD-2001", Customer: protocol.Customer{ID: "CUST-42"},
		Items: []protocol.LineItem{{SKU: "WIDGET-1", Quantity: 2, UnitPrice: "19.99"}},
		Total: protocol.Money{Amount: "39.98", Currency: "EUR"}}
	for _, what := range []string{"start", "start again (a duplicate)"} {
		reply, err := svc.Submit(ctx, "checkout", order)
		if err != nil {
			return "", err
		}
		if err := samples.FailureError(reply.Error); err != nil {
			return "", fmt.Errorf("start refused: %w", err)
		}
		fmt.Printf("    %-26s order %s -> saga %s/%s uid %s\n", what, order.ID, reply.Namespace, reply.Name, reply.UID)
	}
	seen, start := "", time.Now()
	for {
		reply, err := svc.Query(ctx, order.ID)
		if err != nil {
			return "", err
		}
		if err := samples.FailureError(reply.Error); err != nil {
			return "", fmt.Errorf("query: %w", err)
		}
		line := fmt.Sprintf("%-13s %s", reply.Saga.Phase, queriedProgress(reply.Saga))
		if line != seen && reply.Saga.Phase != "" {
			fmt.Printf("    %5.1fs  query: %s %s (template %s v%d)\n", time.Since(start).Seconds(), reply.Saga.Name, line,
				reply.Saga.Template, reply.Saga.TemplateGeneration)
			seen = line
		}
		if phase := ordersv1alpha1.SagaPhase(reply.Saga.Phase); phase.IsFinal() {
			return phase, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the bus order is not final: %w", ctx.Err())
		case <-time.After(300 * time.Millisecond): // the refresh rate of the live view
		}
	}
}

func queriedProgress(s *protocol.SagaSummary) string {
	parts := make([]string, 0, len(s.Steps))
	for _, st := range s.Steps {
		parts = append(parts, st.Name+"="+st.State)
	}
	return strings.Join(parts, " ")
}

// follow prints each change of the sagas' phase or step until all are
// final, and returns the final phases. It prints a line per change, not per
// poll, so its output reads the same in a terminal and in a log.
func (d *demo) follow(ctx context.Context, timeout time.Duration) (map[string]ordersv1alpha1.SagaPhase, error) {
	seen := map[string]string{}
	phases := map[string]ordersv1alpha1.SagaPhase{}
	deadline := time.Now().Add(timeout)
	start := time.Now()
	for time.Now().Before(deadline) {
		list := &ordersv1alpha1.OrderSagaList{}
		if err := d.k8s.List(context.Background(), list, client.InNamespace("default")); err != nil {
			return nil, err
		}
		final := len(list.Items) == len(expected)
		for _, s := range list.Items {
			phases[s.Name] = s.Status.Phase
			if s.Status.Phase == "" { // not yet seen by the operator: nothing to show
				final = false
				continue
			}
			line := fmt.Sprintf("%-11s %-13s %s", s.Name, s.Status.Phase, progress(&s))
			if seen[s.Name] != line {
				fmt.Printf("    %5.1fs  %s\n", time.Since(start).Seconds(), line)
				seen[s.Name] = line
			}
			final = final && s.Status.Phase.IsFinal()
		}
		if final {
			return phases, nil
		}
		select {
		case <-ctx.Done():
			return phases, errors.New("interrupted")
		case <-time.After(200 * time.Millisecond): // the refresh rate of the live view
		}
	}
	return phases, fmt.Errorf("sagas not final after %s", timeout)
}

// progress renders the steps' states, for example
// "reserve-inventory=Succeeded charge-payment=Running".
func progress(s *ordersv1alpha1.OrderSaga) string {
	parts := make([]string, 0, len(s.Status.Steps))
	for _, rec := range s.Status.Steps {
		parts = append(parts, rec.Name+"="+string(rec.State))
	}
	return strings.Join(parts, " ")
}

// showParticipants prints "kubectl get participants" once the three
// services show Ready, with their consumers: the operator refreshes their
// status every couple of seconds.
func (d *demo) showParticipants(ctx context.Context) error {
	ready := func() bool {
		list := &ordersv1alpha1.ParticipantList{}
		if err := d.k8s.List(ctx, list); err != nil {
			return false
		}
		n := 0
		for i := range list.Items {
			if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, ordersv1alpha1.ConditionReady) {
				n++
			}
		}
		return n == 3
	}
	if err := poll.Until(ctx, 30*time.Second, ready); err != nil {
		return fmt.Errorf("participants not ready: %w", err)
	}
	out, err := d.run("get", "participants")
	fmt.Print(out)
	return err
}

func (d *demo) run(args ...string) (string, error) {
	cmd := exec.Command(d.kubectl[0], append(append([]string{}, d.kubectl[1:]...), args...)...)
	cmd.Args = append([]string{"kubectl"}, cmd.Args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// teardown stops everything the demo started and deletes its queues.
func (d *demo) teardown() error {
	var errs []error
	if d.services != nil {
		d.services.Stop()
	}
	if d.stopMgr != nil {
		d.stopMgr()
		errs = append(errs, <-d.mgrDone)
	}
	if d.topology.Prefix != "" {
		errs = append(errs, d.deleteQueues())
	}
	if d.env != nil {
		errs = append(errs, d.env.Stop())
	}
	if d.dir != "" {
		_ = os.RemoveAll(d.dir)
	}
	return errors.Join(errs...)
}

func (d *demo) deleteQueues() error {
	conn, err := amqp.Dial(rabbitmq.BrokerURL())
	if err != nil {
		return fmt.Errorf("clean up the broker: %w", err)
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("clean up the broker: %w", err)
	}
	if d.services != nil {
		for _, q := range d.services.Queues() {
			if _, err := ch.QueueDelete(q, false, false, false); err != nil {
				return fmt.Errorf("delete queue %s: %w", q, err)
			}
		}
	}
	if err := d.topology.Delete(ch); err != nil {
		return err
	}
	// The order service declared the event exchange, in case the operator
	// had not yet.
	_ = ch.ExchangeDelete(protocol.EventExchange(d.topology.Prefix), false, false)
	return nil
}
