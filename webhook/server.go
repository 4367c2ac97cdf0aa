package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"

	"k8s.io/utils/clock"

	"github.com/hdscale/hdscale/internal/serving"
)

// Paths of the webhook server.
const (
	PathMutate            = "/mutate"
	PathMutateDeployment  = "/mutate-deployment"
	PathValidateNamespace = "/validate-namespace"
)

// NewMux returns the webhook server's handler: POST PathMutate (mut), POST
// PathMutateDeployment (dep, when set) and POST PathValidateNamespace (nsv),
// each recovering from panics (counted).
func NewMux(opts Options, mut *Mutator, dep *DeploymentMutator, nsv *NamespaceValidator, met *Metrics, log logr.Logger) *http.ServeMux {
	mux := http.NewServeMux()
	handlers := []*Handler{
		{Path: PathMutate, Admit: mut.Admit},
		{Path: PathValidateNamespace, Admit: nsv.Admit},
	}
	if dep != nil {
		handlers = append(handlers, &Handler{Path: PathMutateDeployment, Admit: dep.Admit})
	}
	for _, h := range handlers {
		h.Metrics, h.Log, h.MaxBytes, h.Clock = met, log, opts.MaxRequestBytes, opts.Clock
		mux.Handle(h.Path, serving.Recover(log, met.Panics(), h))
	}
	return mux
}

// Run serves the webhook until ctx ends: it loads the matching rules, starts
// the namespace, node and DaemonSet informers, serves /healthz, /readyz
// (ready once the caches synced and every opts.ReadyChecks passes) on
// opts.HealthAddr and /metrics (reg) on opts.MetricsAddr (protected as
// opts.Private says) right away, and the HTTPS webhook on
// opts.ListenAddr, with certificates from getCertificate, once the caches
// synced. It returns nil after a graceful shutdown, or the first error.
func Run(ctx context.Context, opts Options, client kubernetes.Interface, log logr.Logger, reg *prometheus.Registry,
	getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) error {
	opts.Default()
	if err := opts.Validate(); err != nil {
		return err
	}
	if reg == nil {
		return errors.New("webhook: Run: nil registry")
	}
	cfg := opts.Config
	if cfg == nil {
		c, err := LoadConfig(opts.ConfigPath)
		if err != nil {
			return err
		}
		cfg = &c
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.TLSConfig != nil {
		tlsCfg = opts.TLSConfig.Clone()
	}
	if tlsCfg.GetCertificate == nil && len(tlsCfg.Certificates) == 0 {
		if getCertificate == nil {
			return errors.New("webhook: Run: no certificate source (getCertificate is nil)")
		}
		tlsCfg.GetCertificate = getCertificate
	}

	met, err := NewMetrics(reg)
	if err != nil {
		return err
	}
	inf, err := NewInformers(client, opts.ResyncPeriod, opts.ShapeTolerance, met, log)
	if err != nil {
		return err
	}
	health := serving.NewHealth()
	health.AddReadyCheck("informers", inf.Ready)
	for name, c := range opts.ReadyChecks {
		health.AddReadyCheck(name, c)
	}
	healthMux := http.NewServeMux()
	health.Register(healthMux)
	metricsMux := http.NewServeMux()
	serving.RegisterMetrics(metricsMux, reg)

	mut := &Mutator{
		Matcher: NewMatcher(*cfg), Namespaces: inf.Namespaces(), Pools: inf,
		DeclaredCPU: cfg.DeclaredCPU(), SchedulerName: opts.SchedulerName, SkipNamespace: opts.Namespace, Ready: inf.Ready,
	}
	nsv := &NamespaceValidator{Pools: inf, Ready: inf.Ready}
	drifts, err := NewDriftTracker(client, opts.SchedulerName, inf.Namespaces(), inf.Pool, cfg.DeclaredCPU(), mut.Matcher, reg, clock.RealClock{}, log)
	if err != nil {
		return err
	}
	dep := &DeploymentMutator{Matcher: mut.Matcher, Namespaces: inf.Namespaces(), SkipNamespace: opts.Namespace, Ready: inf.Ready}
	var sw *SchedulerWatch
	if opts.Namespace != "" && opts.SchedulerLease != "" {
		if sw, err = NewSchedulerWatch(client, opts.Namespace, opts.SchedulerLease, opts.SchedulerName, clock.RealClock{}, reg, log); err != nil {
			return err
		}
		mut.SchedulerWarning = sw.Warning
		sw.Pending = drifts.PendingPods
	}

	var lc net.ListenConfig
	webhookLn, err := lc.Listen(ctx, "tcp", opts.ListenAddr)
	if err != nil {
		return fmt.Errorf("webhook: listening on %s: %w", opts.ListenAddr, err)
	}
	healthLn, err := lc.Listen(ctx, "tcp", opts.HealthAddr)
	if err != nil {
		_ = webhookLn.Close()
		return fmt.Errorf("webhook: listening on %s: %w", opts.HealthAddr, err)
	}
	metricsLn, err := lc.Listen(ctx, "tcp", opts.MetricsAddr)
	if err != nil {
		_ = webhookLn.Close()
		_ = healthLn.Close()
		return fmt.Errorf("webhook: listening on %s: %w", opts.MetricsAddr, err)
	}
	if opts.Listening != nil {
		opts.Listening(Addrs{Webhook: webhookLn.Addr(), Health: healthLn.Addr(), Metrics: metricsLn.Addr()})
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 5)
	running := 0
	start := func(name string, fn func() error) {
		running++
		go func() {
			err := fn()
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
			errc <- err
		}()
	}
	start("health server", func() error {
		return serving.Run(ctx, log.WithName("health"), newHTTPServer(healthMux, nil), healthLn)
	})
	start("metrics server", func() error {
		return serving.Run(ctx, log.WithName("metrics"), opts.Private.Server(metricsMux, 30*time.Second), metricsLn)
	})
	start("webhook server", func() error {
		defer webhookLn.Close()
		if err := inf.Start(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			if err := drifts.Start(ctx); err != nil && ctx.Err() == nil {
				log.Error(err, "drift tracker") // a metric only: never gates admission
			}
		}()
		return serving.Run(ctx, log.WithName("webhook"), newHTTPServer(NewMux(opts, mut, dep, nsv, met, log.WithName("admission")), tlsCfg), webhookLn)
	})

	if sw != nil {
		start("scheduler watch", func() error {
			if err := sw.Start(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			runOutageEvents(ctx, client, opts, sw, log)
			return nil
		})
	}

	var first error
	for ; running > 0; running-- {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

func newHTTPServer(h http.Handler, tlsCfg *tls.Config) *http.Server {
	s := serving.NewServer(h, 30*time.Second)
	s.TLSConfig = tlsCfg
	return s
}
