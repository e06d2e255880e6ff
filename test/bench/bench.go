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
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	amqp "github.com/rabbitmq/amqp091-go"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/fixtures"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/metricscrape"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/poll"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/registry"
	"github.com/ordersaga/ordersaga-operator/sdk/participant"
)

// bench holds what the benchmark started.
type bench struct {
	ctx        context.Context
	dir        string
	env        *envtest.Environment
	cfg        *rest.Config
	k8s        client.Client
	kubeconfig string
	manager    string
	topology   broker.Topology

	operator         *exec.Cmd
	metricsURL       string
	pprofURL         string
	participants     []*participant.Participant
	stopParticipants context.CancelFunc
	wg               sync.WaitGroup
	holder           *amqp.Connection
	// held counts the sagas held in flight so far.
	held int
	// policies are the admission policies installed (nil: those the
	// control plane installed at start, this tree's); worktrees are the
	// baselines' checkouts, removed at teardown.
	policies  []*unstructured.Unstructured
	worktrees []string
	// flooding, during the flood run, sees every command the participants
	// answer, just before the reply.
	flooding atomic.Pointer[flooder]
}

func newBench(ctx context.Context) (*bench, error) {
	b := &bench{ctx: ctx, topology: newTopology()}
	var err error
	if b.dir, err = os.MkdirTemp("", "ordersaga-bench-"); err != nil {
		return nil, err
	}
	// envtest and the clients log through controller-runtime: to a file, so
	// that they keep out of the output, and before anything logs, or
	// controller-runtime complains that no logger was set.
	logFile, err := os.Create(filepath.Join(b.dir, "bench.log"))
	if err != nil {
		return b, err
	}
	logf.SetLogger(zap.New(zap.WriteTo(logFile)))
	step("building the manager")
	if b.manager, err = buildManager(controlplane.RepoRoot(), filepath.Join(b.dir, "manager")); err != nil {
		return b, err
	}
	step("starting the control plane")
	if b.env, b.cfg, err = controlplane.Start(); err != nil {
		return b, err
	}
	// The benchmark's own client must not be the bottleneck.
	b.cfg.QPS, b.cfg.Burst = 5000, 10000
	scheme, err := controlplane.Scheme()
	if err != nil {
		return b, err
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return b, fmt.Errorf("add the CRD kinds: %w", err)
	}
	if b.k8s, err = client.New(b.cfg, client.Options{Scheme: scheme}); err != nil {
		return b, err
	}
	if b.policies, err = controlplane.AdmissionPolicies(); err != nil {
		return b, err
	}
	admin, err := b.env.AddUser(envtest.User{Name: "bench-operator", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return b, err
	}
	raw, err := admin.KubeConfig()
	if err != nil {
		return b, err
	}
	b.kubeconfig = filepath.Join(b.dir, "kubeconfig")
	return b, os.WriteFile(b.kubeconfig, raw, 0o600)
}

func (b *bench) namespace(prefix string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := b.k8s.Create(b.ctx, ns); err != nil {
		return "", err
	}
	return ns.Name, nil
}

// startOperator runs the variant's manager binary, as a Deployment would,
// with its default settings and the variant's flags.
func (b *bench) startOperator(v variant, concurrency int) error {
	metricsAddr, pprofAddr := freeAddress(), freeAddress()
	b.metricsURL, b.pprofURL = "http://"+metricsAddr+"/metrics", "http://"+pprofAddr
	log, err := os.Create(filepath.Join(b.dir, fmt.Sprintf("operator-%d.log", time.Now().UnixNano())))
	if err != nil {
		return err
	}
	args := append([]string{"--broker-url=" + rabbitmq.BrokerURL(), "--topology-prefix=" + b.topology.Prefix,
		"--metrics-bind-address=" + metricsAddr, "--metrics-secure=false", "--health-probe-bind-address=0",
		"--pprof-bind-address=" + pprofAddr, fmt.Sprintf("--max-concurrent-reconciles=%d", concurrency)}, v.Args...)
	b.operator = exec.Command(v.manager, args...)
	b.operator.Env = append(os.Environ(), "KUBECONFIG="+b.kubeconfig)
	b.operator.Stdout, b.operator.Stderr = log, log
	if err := b.operator.Start(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "    operator pid %d, metrics %s, pprof http://%s/debug/pprof/, log %s\n",
		b.operator.Process.Pid, b.metricsURL, pprofAddr, log.Name())
	if err := waitFor(b.ctx, 60*time.Second, func() bool {
		f, err := b.scrape()
		return err == nil && value(f, "ordersaga_broker_connected", nil) == 1
	}); err != nil {
		return fmt.Errorf("operator not connected: %w", err)
	}
	return nil
}

// stopOperator stops the manager gracefully.
func (b *bench) stopOperator() {
	if b.operator != nil && b.operator.Process != nil {
		_ = b.operator.Process.Signal(syscall.SIGTERM)
		_ = b.operator.Wait()
		b.operator = nil
	}
}

// startParticipants runs the participants, which reply at once (the
// payment service declines the customer CUST-DECLINED; during the flood run
// the flooder sees each command first), and the holder.
func (b *bench) startParticipants() error {
	pctx, stop := context.WithCancel(b.ctx)
	b.stopParticipants = stop
	for _, svc := range []struct{ service, command, compensation string }{
		{"inventory", "ReserveInventory", "ReleaseInventory"},
		{"payment", "ChargePayment", "RefundPayment"},
		{"shipping", "ScheduleShipment", "CancelShipment"},
	} {
		err := registry.Register(b.ctx, b.k8s, b.topology.CommandExchange(), fixtures.NewParticipant(svc.service, "guest",
			[]string{svc.command}, []string{svc.compensation}))
		if err != nil {
			return err
		}
		p, err := participant.New(participant.Options{URL: rabbitmq.BrokerURL(), Service: svc.service,
			CommandExchange: b.topology.CommandExchange(), Concurrency: 16, Prefetch: 64})
		if err != nil {
			return err
		}
		service := svc.service
		p.Handle(svc.command, func(_ context.Context, cmd *participant.Command) (participant.Result, error) {
			if service == "payment" && cmd.Order.Customer.ID == "CUST-DECLINED" {
				return nil, participant.Fail("CardDeclined", "declined")
			}
			if f := b.flooding.Load(); f != nil {
				f.beforeReply(cmd)
			}
			return participant.Result{"id": service}, nil
		})
		p.Compensate(svc.compensation, func(context.Context, *participant.Command) (participant.Result, error) {
			return nil, nil
		})
		b.participants = append(b.participants, p)
		b.wg.Go(func() { _ = p.Run(pctx) })
	}
	if err := waitFor(b.ctx, 30*time.Second, func() bool {
		for _, p := range b.participants {
			if !p.Ready() {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("participants not ready: %w", err)
	}
	return b.startHolder()
}

// startHolder registers the service "held" and consumes its queue: it takes
// commands and never answers, which keeps sagas in flight. (A saga waits,
// Blocked, for a service not registered: the Participant is needed.)
func (b *bench) startHolder() error {
	held := fixtures.NewParticipant(heldService, "guest", []string{"Wait"}, nil)
	if err := registry.Register(b.ctx, b.k8s, b.topology.CommandExchange(), held); err != nil {
		return err
	}
	conn, err := amqp.Dial(rabbitmq.BrokerURL())
	if err != nil {
		return err
	}
	b.holder = conn
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	// The operator declared and bound the queue.
	deliveries, err := ch.Consume(b.topology.ParticipantQueue(heldService), "", true, false, false, false, nil)
	if err != nil {
		return err
	}
	go func() {
		for range deliveries { //nolint:revive // drained and dropped: the sagas stay in flight
		}
	}()
	return nil
}

// scrape reads the operator's metrics.
func (b *bench) scrape() (map[string]*dto.MetricFamily, error) {
	return metricscrape.Scrape(b.metricsURL)
}

var (
	value        = metricscrape.MetricValue
	histogramSum = metricscrape.HistogramSum
	waitFor      = poll.Until
)

// rssMiB reads the operator's resident memory from /proc.
func (b *bench) rssMiB() float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.operator.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// cpuSeconds reads the operator's user and system CPU time from /proc.
func (b *bench) cpuSeconds() float64 { return processCPU(b.operator.Process.Pid) }

// processCPU reads a process's user and system CPU time from /proc.
func processCPU(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	fields := strings.Fields(string(raw)[strings.LastIndex(string(raw), ")")+2:])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // clock ticks (USER_HZ = 100)
}

// cpuByComponent reads the CPU time of every process of the test bed, by
// component, to tell what the machine spends its cores on.
func (b *bench) cpuByComponent() map[string]float64 {
	return cpuByComponent(b.operator.Process.Pid)
}

// cpuByComponent reads the CPU time of the test bed's processes by
// component. The control plane counts only if it is this process's own
// (envtest's children): another test bed's apiserver on the machine is not
// the bench's. No operator is counted when operatorPid is not one.
func cpuByComponent(operatorPid int) map[string]float64 {
	out := map[string]float64{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		name := component(pid, string(cmdline), operatorPid)
		if (name == componentAPIServer || name == componentEtcd) && parentPID(pid) != os.Getpid() {
			continue
		}
		if name != "" {
			out[name] += processCPU(pid)
		}
	}
	return out
}

// parentPID reads a process's parent from /proc (0 if it cannot).
func parentPID(pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(raw)[strings.LastIndex(string(raw), ")")+2:])
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// The control plane's components among the test bed's parts.
const (
	componentAPIServer = "kube-apiserver"
	componentEtcd      = "etcd"
)

func component(pid int, cmdline string, operatorPid int) string {
	switch {
	case pid == operatorPid:
		return "operator"
	case pid == os.Getpid():
		return "bench (participants, clients)"
	case strings.Contains(cmdline, componentAPIServer):
		return componentAPIServer
	case strings.Contains(cmdline, "kubebuilder-envtest") && strings.Contains(cmdline, "etcd"):
		return componentEtcd
	case strings.Contains(cmdline, "beam.smp") || strings.Contains(cmdline, "rabbitmq"):
		return "rabbitmq"
	}
	return ""
}

func (b *bench) teardown() error {
	var errs []error
	if b.stopParticipants != nil {
		b.stopParticipants()
		b.wg.Wait()
	}
	b.stopOperator()
	if conn, err := amqp.Dial(rabbitmq.BrokerURL()); err == nil {
		if ch, err := conn.Channel(); err == nil {
			for _, p := range b.participants {
				_, _ = ch.QueueDelete(p.Queue(), false, false, false)
			}
			_, _ = ch.QueueDelete(b.topology.ParticipantQueue(heldService), false, false, false)
			_, _ = ch.QueueDelete(ceilingQueue, false, false, false)
			errs = append(errs, b.topology.Delete(ch))
		}
		_ = conn.Close()
	}
	if b.holder != nil {
		_ = b.holder.Close()
	}
	if b.env != nil {
		errs = append(errs, b.env.Stop())
	}
	b.removeWorktrees()
	if b.dir != "" && os.Getenv("BENCH_KEEP") == "" {
		_ = os.RemoveAll(b.dir)
	}
	return errors.Join(errs...)
}

func freeAddress() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// profileAPIServer saves the apiserver's CPU profile over seconds to out
// (kube-apiserver serves pprof to its admins).
func (b *bench) profileAPIServer(seconds int, out string) error {
	hc, err := rest.HTTPClientFor(b.cfg)
	if err != nil {
		return err
	}
	resp, err := hc.Get(strings.TrimSuffix(b.cfg.Host, "/") + fmt.Sprintf("/debug/pprof/profile?seconds=%d", seconds))
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	_, err = io.Copy(f, resp.Body)
	return err
}
