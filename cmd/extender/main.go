// Command extender runs hdscale's kube-scheduler extender as a sidecar of
// the hdscale-scheduler (see docs/extender.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hdscale/hdscale/extender"
	"github.com/hdscale/hdscale/internal/access"
	"github.com/hdscale/hdscale/internal/kube"
	"github.com/hdscale/hdscale/internal/logging"
	"github.com/hdscale/hdscale/internal/serving"
	"github.com/hdscale/hdscale/internal/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "extender:", err)
		os.Exit(1)
	}
}

func run() error {
	opts := extender.Default()
	lopts := logging.Options{Level: "info"}
	var kubeconfig string
	metricsAuth := access.ModeDelegated
	flag.StringVar(&opts.ListenAddr, "listen", opts.ListenAddr, "address of the extender protocol (filter, prioritize)")
	flag.StringVar(&opts.HealthAddr, "health-listen", opts.HealthAddr, "plain-HTTP address of /healthz and /readyz")
	flag.StringVar(&opts.PrivateAddr, "metrics-listen", opts.PrivateAddr, "HTTPS address of /metrics, /explain and /debug/pprof/ (authenticated and authorized by the API server)")
	flag.StringVar(&metricsAuth, "metrics-auth", metricsAuth, "who may read the --metrics-listen endpoints: delegated (TokenReview/client certificate + SubjectAccessReview) or none (plain HTTP, loopback --metrics-listen only)")
	flag.DurationVar(&opts.MetricsInterval, "metrics-interval", opts.MetricsInterval, "how often to poll metrics.k8s.io NodeMetrics")
	flag.DurationVar(&opts.MetricsMaxAge, "metrics-max-age", opts.MetricsMaxAge, "sample age beyond which a node falls back to requests-based utilisation (0: 3 × interval)")
	flag.Float64Var(&opts.ShapeTolerance, "shape-tolerance", opts.ShapeTolerance, "relative CPU/memory difference from the pool's reference shape a node may have")
	flag.Float64Var(&opts.HotThreshold, "hot-threshold", opts.HotThreshold, "reject nodes at or above this live CPU utilisation (0..1; 0 = off; never rejects every node)")
	flag.DurationVar(&opts.ReservationTTL, "reservation-ttl", opts.ReservationTTL, "how long a predicted placement counts when its pod is never seen bound")
	flag.BoolVar(&opts.FilterToWinner, "filter-to-winner", opts.FilterToWinner, "answer /filter with only the node /prioritize would pick, so kube-scheduler places the pod without a scoring round (same placement, one call instead of two)")
	flag.BoolVar(&opts.ScoreAllNodes, "score-all-nodes", opts.ScoreAllNodes, "list every candidate node's score in /prioritize responses (default: only the winner; nodes not listed count as 0, which places pods the same)")
	flag.BoolVar(&opts.Profiling, "profiling", opts.Profiling, "serve Go runtime profiles under /debug/pprof/ on the --metrics-listen listener")
	flag.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (empty: in-cluster config)")
	flag.StringVar(&lopts.Level, "log-level", lopts.Level, "log level: debug (includes V(1) placement decisions), info or error")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Get())
		return nil
	}

	if err := lopts.Validate(); err != nil {
		return err
	}
	log, flush, err := logging.New(lopts)
	if err != nil {
		return err
	}
	defer flush()
	planned := opts
	planned.Private = access.Planned(metricsAuth) // built below, once a client exists
	if err := errors.Join(access.ValidateMode(metricsAuth), planned.ValidateServing()); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.UserAgent = "hdscale-extender"
	kubeClient, err := kubernetes.NewForConfig(kube.Protobuf(cfg))
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	metrics, err := metricsclient.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("metrics.k8s.io client: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reg := serving.NewRegistry()
	if opts.Private, err = access.Build(ctx, metricsAuth, kubeClient, privateHost(), log.WithName("access"), reg); err != nil {
		return err
	}
	log.Info("starting extender", "listen", opts.ListenAddr, "health", opts.HealthAddr, "metricsInterval", opts.MetricsInterval,
		"metricsMaxAge", opts.MaxAge(), "shapeTolerance", opts.ShapeTolerance, "hotThreshold", opts.HotThreshold, "reservationTTL", opts.ReservationTTL)
	return extender.Run(ctx, opts, kubeClient, metrics, log, reg)
}

// privateHost names the self-signed certificate of the private listener.
func privateHost() string {
	if name := os.Getenv("POD_NAME"); name != "" {
		return name
	}
	return "hdscale-extender"
}
