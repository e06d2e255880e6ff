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

// Package chaos is the fault-injection suite: it runs loads of sagas through
// a real control plane, the real broker and recording participants while
// killing the operator at chosen points, cutting its broker connections,
// restarting the broker, failing apiserver writes, serving stale reads and
// pausing a leader, and after each scenario checks that no step was lost,
// stuck or doubled. make test runs a reduced load; make test-chaos the full
// one (CHAOS_SAGAS, CHAOS_REPEAT).
package chaos

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ordersaga/ordersaga-operator/internal/broker"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/faultproxy"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/rabbitmq"
)

var (
	ctx        context.Context
	cancel     context.CancelFunc
	env        *envtest.Environment
	cfg        *rest.Config
	scheme     *runtime.Scheme
	k8sClient  client.Client
	kubeconfig string
	workDir    string
	managerBin string
	topology   broker.Topology
	proxy      *faultproxy.Proxy
	book       = newLedger()
	crew       *participants
	results    []result
	// load: sagas per scenario run, and runs per scenario.
	sagasPerRun = envInt("CHAOS_SAGAS", 16)
	repeats     = envInt("CHAOS_REPEAT", 1)
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestChaos(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(2 * time.Minute)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "Fault-injection Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	ctrl.SetLogger(logf.Log)
	ctx, cancel = context.WithCancel(context.Background())
	var err error
	workDir, err = os.MkdirTemp("", "ordersaga-chaos-")
	Expect(err).NotTo(HaveOccurred())

	By("building the manager with the crash points compiled in")
	managerBin = filepath.Join(workDir, "manager")
	build := exec.Command("go", "build", "-tags", "chaos", "-o", managerBin, "./cmd")
	build.Dir = controlplane.RepoRoot()
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))

	By("starting the control plane")
	env, cfg, err = controlplane.Start()
	Expect(err).NotTo(HaveOccurred())
	scheme, err = controlplane.Scheme()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	admin, err := env.AddUser(envtest.User{Name: "chaos-operator", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	raw, err := admin.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	kubeconfig = filepath.Join(workDir, "kubeconfig")
	Expect(os.WriteFile(kubeconfig, raw, 0o600)).To(Succeed())

	topology = broker.Topology{Prefix: "chaos-" + rand.String(6)}
	u, err := url.Parse(rabbitmq.BrokerURL())
	Expect(err).NotTo(HaveOccurred())
	proxy, err = faultproxy.Start(u.Host)
	Expect(err).NotTo(HaveOccurred())
	// An operator runs while the participants are registered: it declares
	// and binds their queues, which outlive it for the scenarios' operators.
	registrar := startInProcess(nil, nil)
	crew = startParticipants()
	registrar.stop()
})

var _ = AfterSuite(func() {
	if crew != nil {
		crew.stop()
	}
	if proxy != nil {
		proxy.Close()
	}
	if conn, err := amqp.Dial(rabbitmq.BrokerURL()); err == nil {
		if ch, err := conn.Channel(); err == nil {
			for _, service := range []string{"inventory", "payment", "shipping"} {
				_, _ = ch.QueueDelete(topology.CommandExchange()+"."+service, false, false, false)
			}
			_ = topology.Delete(ch)
		}
		_ = conn.Close()
	}
	writeReport()
	cancel()
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
	if os.Getenv("CHAOS_KEEP") == "" {
		_ = os.RemoveAll(workDir)
	} else {
		fmt.Fprintln(os.Stderr, "chaos: logs kept in", workDir)
	}
})

// writeReport prints the results table, and writes it to CHAOS_REPORT if set.
func writeReport() {
	if len(results) == 0 {
		return
	}
	host, _ := os.Hostname()
	table := fmt.Sprintf("Run %s on %s (%d CPUs); %d sagas per run.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"),
		host, runtimeCPUs(), sagasPerRun)
	table += "| scenario | runs | sagas | faults injected | lost | stuck | doubled | time |\n|---|---|---|---|---|---|---|---|\n"
	for _, r := range results {
		table += fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %d | %s |\n", r.scenario, r.runs, r.sagas, r.faults,
			r.lost, r.stuck, r.doubled, r.elapsed.Round(time.Second))
	}
	GinkgoWriter.Println(table)
	fmt.Fprintln(os.Stderr, table)
	if path := os.Getenv("CHAOS_REPORT"); path != "" {
		_ = os.WriteFile(path, []byte(table), 0o644)
	}
}
