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

package chaos

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ordersaga/ordersaga-operator/internal/controller"
	"github.com/ordersaga/ordersaga-operator/internal/operator"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
)

// process runs the manager binary and restarts it whenever it dies, as a
// Deployment would: a crash point kills it with SIGKILL mid-flight.
type process struct {
	name string
	args []string
	env  []string
	log  *os.File

	mu      sync.Mutex
	cmd     *exec.Cmd
	crashes int
	paused  bool
	stopped bool
	done    chan struct{}
}

// startProcess starts a supervised manager. chaos is ORDERSAGA_CHAOS.
func startProcess(name, chaos string, extraArgs ...string) *process {
	log, err := os.CreateTemp(workDir, name+"-*.log")
	Expect(err).NotTo(HaveOccurred())
	p := &process{
		name: name,
		args: append([]string{
			"--broker-url=" + proxy.URL(rabbitmq.BrokerURL()),
			"--topology-prefix=" + topology.Prefix,
			"--metrics-bind-address=0", "--health-probe-bind-address=0",
			"--max-concurrent-reconciles=8", "--zap-devel",
		}, extraArgs...),
		env:  append(os.Environ(), "KUBECONFIG="+kubeconfig, "ORDERSAGA_CHAOS="+chaos),
		log:  log,
		done: make(chan struct{}),
	}
	go p.supervise()
	return p
}

func (p *process) supervise() {
	defer close(p.done)
	for {
		cmd := exec.Command(managerBin, p.args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = p.env, p.log, p.log
		p.mu.Lock()
		if p.stopped {
			p.mu.Unlock()
			return
		}
		if err := cmd.Start(); err != nil {
			p.mu.Unlock()
			GinkgoWriter.Printf("%s: start: %v\n", p.name, err)
			return
		}
		p.cmd = cmd
		p.mu.Unlock()
		_ = cmd.Wait()
		p.mu.Lock()
		stopped := p.stopped
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL && !stopped {
			p.crashes++
		}
		p.mu.Unlock()
		if stopped {
			return
		}
		// Restarted at once, like a container: no grace, no backoff.
	}
}

// kill kills the current process with SIGKILL (counted as a crash).
func (p *process) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// pause stops the process (SIGSTOP) without it knowing; resume continues it.
func (p *process) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGSTOP)
	p.paused = true
}

func (p *process) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	p.paused = false
}

func (p *process) crashCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.crashes
}

// stop ends the process gracefully and the supervision.
func (p *process) stop() {
	p.mu.Lock()
	p.stopped = true
	if p.cmd != nil && p.cmd.Process != nil {
		if p.paused {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	p.mu.Unlock()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
		<-p.done
	}
	_ = p.log.Close()
}

// inProcess runs the operator in the test process, for the scenarios that
// wrap its apiserver client.
type inProcess struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startInProcess(wrap func(client.Client) client.Client, publisher func(controller.CommandPublisher) controller.CommandPublisher) *inProcess {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme, Cache: operator.CacheOptions(), Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: new(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	op, err := operator.Setup(mgr, operator.Options{
		BrokerURL: proxy.URL(rabbitmq.BrokerURL()), TopologyPrefix: topology.Prefix, MaxConcurrentReconciles: 8,
		MinReconnectDelay: 50 * time.Millisecond, MaxReconnectDelay: time.Second,
		WrapClient: wrap, WrapPublisher: publisher,
	})
	Expect(err).NotTo(HaveOccurred())
	mctx, stop := context.WithCancel(ctx)
	p := &inProcess{cancel: stop, done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(p.done)
		Expect(mgr.Start(mctx)).To(Succeed())
	}()
	Eventually(op.Broker.Connected).Should(BeTrue())
	return p
}

func (p *inProcess) stop() {
	p.cancel()
	<-p.done
}
