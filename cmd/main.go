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

// Command manager runs the ordersaga-operator controller manager.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	// Client auth plugins, so that "make run" works against any cluster.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/controller"
	"github.com/ordersaga/ordersaga-operator/internal/operator"
	"github.com/ordersaga/ordersaga-operator/internal/tracing"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(ordersv1alpha1.AddToScheme(scheme))
}

// options are the manager's command-line settings.
type options struct {
	metricsAddr          string
	secureMetrics        bool
	probeAddr            string
	pprofAddr            string
	enableLeaderElection bool
	leaderElectionNS     string
	leaseDuration        time.Duration
	renewDeadline        time.Duration
	retryPeriod          time.Duration
	enableHTTP2          bool
	kubeAPIQPS           float64
	kubeAPIBurst         int
	brokerURL            string
	brokerURLFile        string
	brokerCAFile         string
	brokerServerName     string
	otlpEndpoint         string
	otlpInsecure         bool
	// operator holds the operator's own settings, from its defaults.
	operator           operator.Options
	events             string
	manageParticipants bool
}

// appendNamespaces parses a comma-separated list of namespaces into list.
func appendNamespaces(list *[]string) func(string) error {
	return func(v string) error {
		for ns := range strings.SplitSeq(v, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				*list = append(*list, ns)
			}
		}
		return nil
	}
}

func parseFlags() (options, zap.Options) {
	o := options{operator: operator.DefaultOptions()}
	op := &o.operator
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", "0",
		"Address of the metrics endpoint: :8443 for HTTPS, :8080 for HTTP, 0 to disable it.")
	flag.BoolVar(&o.secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS with authentication and authorization; false serves plain HTTP.")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.StringVar(&o.pprofAddr, "pprof-bind-address", "0", "Address of the pprof debug endpoint; 0 disables it.")
	flag.BoolVar(&o.enableLeaderElection, "leader-elect", false,
		"Elect a leader so that only one replica reconciles sagas and consumes replies.")
	flag.StringVar(&o.leaderElectionNS, "leader-election-namespace", "",
		"Namespace of the leader election Lease; default the Pod's namespace (required outside a cluster).")
	flag.DurationVar(&o.leaseDuration, "leader-elect-lease-duration", 15*time.Second,
		"How long a standby waits before taking over a lease the leader stopped renewing.")
	flag.DurationVar(&o.renewDeadline, "leader-elect-renew-deadline", 10*time.Second,
		"How long the leader keeps trying to renew before it gives up leadership (and exits).")
	flag.DurationVar(&o.retryPeriod, "leader-elect-retry-period", 2*time.Second, "Interval between lease renewals.")
	flag.BoolVar(&o.enableHTTP2, "enable-http2", false,
		"Serve metrics over HTTP/2 as well (off: HTTP/2 rapid-reset and stream-cancellation CVEs).")
	flag.IntVar(&op.MaxConcurrentReconciles, "max-concurrent-reconciles", op.MaxConcurrentReconciles,
		"How many sagas are reconciled at once.")
	flag.Float64Var(&o.kubeAPIQPS, "kube-api-qps", 0,
		"Client-side rate limit of requests to the apiserver; 0 keeps controller-runtime's default (no client-side limit).")
	flag.IntVar(&o.kubeAPIBurst, "kube-api-burst", 0, "Burst of the client-side rate limit; 0 keeps the default.")
	flag.StringVar(&o.brokerURL, "broker-url", "",
		"AMQP URL of the broker (amqp:// or amqps://); default $ORDERSAGA_BROKER_URL. Prefer --broker-url-file for credentials.")
	flag.StringVar(&o.brokerURLFile, "broker-url-file", "",
		"File holding the AMQP URL of the broker, for example a mounted Secret key; overrides --broker-url.")
	flag.StringVar(&o.brokerCAFile, "broker-ca-file", "",
		"PEM bundle of the CAs that sign the broker's certificate (amqps); default the system roots.")
	flag.StringVar(&o.brokerServerName, "broker-server-name", "",
		"Name to verify in the broker's certificate (amqps); default the URL's host.")
	flag.StringVar(&op.TopologyPrefix, "topology-prefix", op.TopologyPrefix,
		"Prefix of the exchanges and queues the operator declares.")
	flag.IntVar(&op.Prefetch, "reply-prefetch", op.Prefetch, "Replies taken from the broker and not yet acknowledged, at most.")
	flag.IntVar(&op.ReplyDeliveryLimit, "reply-delivery-limit", op.ReplyDeliveryLimit,
		"Deliveries of one reply before the broker dead-letters it as poison.")
	flag.DurationVar(&op.ReplySettleTimeout, "reply-settle-timeout", op.ReplySettleTimeout,
		"How long a reply whose saga's passes keep failing stays unsettled before it goes back to the broker (one delivery); /readyz fails at twice that.")
	flag.DurationVar(&op.SagaTTL, "saga-ttl", op.SagaTTL,
		"How long a Completed or Compensated saga is kept once its lifecycle events are out, when neither it nor its template sets ttlSecondsAfterFinished; negative keeps it for ever (0 is refused: ttlSecondsAfterFinished: 0 on a saga or template deletes at once).")
	flag.DurationVar(&op.RetentionSweepInterval, "retention-sweep-interval", op.RetentionSweepInterval,
		"How often finished sagas are looked at for deletion; a saga is deleted at most this long after it expires.")
	flag.Func("start-namespaces",
		"Comma-separated namespaces in which start messages on the bus may create sagas (docs/events.md); empty, the default, leaves the start queue unconsumed. Needs the create permission of config/rbac-bus-start in each. With --namespaces, among them.",
		appendNamespaces(&op.StartNamespaces))
	flag.Func("namespaces",
		"Comma-separated namespaces this operator owns, a shard's (docs/scaling.md): it watches and lists sagas, templates and requests in those only. Empty, the default, owns every namespace. Needs --shard.",
		appendNamespaces(&op.Namespaces))
	flag.StringVar(&op.Shard, "shard", op.Shard,
		"Name of this operator's shard (docs/scaling.md): its reply, start and query queues end in .<shard>, and its leader election lease is <shard>.ordersaga-operator.ordersaga.io. Empty, the default, keeps the unsharded names.")
	flag.BoolVar(&o.manageParticipants, "manage-participants", !op.SkipParticipantController,
		"Run the participant controller, which declares participants' queues and writes their status; of several shards, exactly one should.")
	flag.StringVar(&o.events, "events", string(op.Events),
		"Which transitions become Kubernetes Events: warnings (bad news, drills and people's verbs only), outcomes (phase changes and step outcomes), phases, all (also every command sent).")
	flag.StringVar(&o.otlpEndpoint, "otlp-endpoint", "",
		"OTLP/gRPC endpoint (host:port) to export trace spans to; empty exports none (trace context still flows).")
	flag.BoolVar(&o.otlpInsecure, "otlp-insecure", false, "Export spans without TLS.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	return o, zapOpts
}

func main() {
	o, zapOpts := parseFlags()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := run(o); err != nil {
		setupLog.Error(err, "Manager failed")
		os.Exit(1)
	}
}

func run(o options) error {
	// The apiserver's latency as the operator sees it (a status write is
	// most of a step's time at light load), with buckets fine enough for
	// a few milliseconds.
	ctrlmetrics.RegisterRESTClientMetricsWithOptions(ctrlmetrics.RESTClientMetricsOptions{
		DurationBuckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, ctrlmetrics.MetricRequestLatency)
	if o.operator.SagaTTL == 0 {
		// Options read zero as "the default"; from the command line it can
		// only be a mistake, so say so instead of keeping sagas a week.
		return errors.New("--saga-ttl must not be 0: give a positive duration, or a negative one to keep finished sagas")
	}
	restConfig, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	if o.kubeAPIQPS > 0 {
		restConfig.QPS = float32(o.kubeAPIQPS)
	}
	if o.kubeAPIBurst > 0 {
		restConfig.Burst = o.kubeAPIBurst
	}

	var tlsOpts []func(*tls.Config)
	if !o.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.secureMetrics, TLSOpts: tlsOpts}
	if o.secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         operator.CacheOptions(o.operator.Namespaces...),
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        o.probeAddr,
		PprofBindAddress:              o.pprofAddr,
		LeaderElection:                o.enableLeaderElection,
		LeaderElectionID:              o.operator.LeaderElectionID(),
		LeaderElectionNamespace:       o.leaderElectionNS,
		LeaseDuration:                 &o.leaseDuration,
		RenewDeadline:                 &o.renewDeadline,
		RetryPeriod:                   &o.retryPeriod,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}

	stopTracing, err := tracing.Setup(context.Background(), o.otlpEndpoint, "ordersaga-operator", o.otlpInsecure)
	if err != nil {
		return err
	}
	defer func() { _ = stopTracing(context.Background()) }()

	url, err := brokerURL(o)
	if err != nil {
		return err
	}
	brokerTLS, err := brokerTLSConfig(o)
	if err != nil {
		return err
	}
	op := o.operator
	op.BrokerURL, op.BrokerTLS, op.Events = url, brokerTLS, controller.EventPolicy(o.events)
	op.SkipParticipantController = !o.manageParticipants
	if _, err := operator.Setup(mgr, op); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}

	setupLog.Info("Starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}

// brokerURL reads the broker's URL from the file (a mounted Secret), else
// from the flag. It never has a default: credentials do not belong in code.
func brokerURL(o options) (string, error) {
	if o.brokerURLFile != "" {
		raw, err := os.ReadFile(o.brokerURLFile)
		if err != nil {
			return "", fmt.Errorf("read broker URL file: %w", err)
		}
		return strings.TrimSpace(string(raw)), nil
	}
	if o.brokerURL != "" {
		return o.brokerURL, nil
	}
	if env := os.Getenv("ORDERSAGA_BROKER_URL"); env != "" {
		return env, nil
	}
	return "", errors.New("no broker URL: set --broker-url-file (a mounted Secret), --broker-url or $ORDERSAGA_BROKER_URL")
}

// brokerTLSConfig builds the TLS settings of amqps from the flags.
func brokerTLSConfig(o options) (*tls.Config, error) {
	if o.brokerCAFile == "" && o.brokerServerName == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.brokerServerName}
	if o.brokerCAFile != "" {
		pem, err := os.ReadFile(o.brokerCAFile)
		if err != nil {
			return nil, fmt.Errorf("read broker CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("broker CA file %s holds no PEM certificate", o.brokerCAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
