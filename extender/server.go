package extender

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/hdscale/hdscale/internal/serving"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
)

// Run runs the extender until ctx ends: informers on kube, the NodeMetrics
// poller on metrics, the protocol on opts.ListenAddr and /healthz, /readyz,
// /metrics (reg) and /explain on opts.HealthAddr.
func Run(ctx context.Context, opts Options, kube kubernetes.Interface, metrics metricsclient.Interface, log logr.Logger, reg *prometheus.Registry) error {
	e, err := New(opts, log, reg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.ListenAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", opts.ListenAddr, err)
	}
	healthLn, err := net.Listen("tcp", opts.HealthAddr)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("listening on %s: %w", opts.HealthAddr, err)
	}
	return e.Serve(ctx, kube, ClientMetricsSource(metrics), reg, ln, healthLn)
}

// Serve runs the extender on the given listeners until ctx ends or a server
// fails. Readiness depends on the node and pod informers only: metrics
// are optional by design (the fallback covers their absence).
func (e *Extender) Serve(ctx context.Context, kube kubernetes.Interface, src MetricsSource, reg *prometheus.Registry, ln, healthLn net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var ready atomic.Bool
	health := serving.NewHealth()
	health.AddReadyCheck("informers", func() error {
		if !ready.Load() {
			return errors.New("node and pod informers have not synced")
		}
		return nil
	})
	hmux := http.NewServeMux()
	health.Register(hmux)
	serving.RegisterMetrics(hmux, reg)
	hmux.Handle("GET /explain", e.explainHandler())
	if e.opts.Profiling {
		serving.RegisterProfiling(hmux)
	}

	synced := e.startInformers(ctx, kube)
	ticker := e.clock.NewTicker(e.opts.ReservationTTL / 2)
	defer ticker.Stop()
	go e.store.run(ctx, ticker.C())
	go func() {
		if !cache.WaitForCacheSync(ctx.Done(), synced...) {
			return
		}
		e.store.rebuild()
		ready.Store(true)
		snap := e.store.load()
		e.log.Info("informers synced", "nodes", snap.Len(), "pools", len(snap.Pools()))
	}()
	go e.runPoller(ctx, src)

	servers := []struct {
		srv *http.Server
		ln  net.Listener
	}{
		// kube-scheduler waits at most its extender httpTimeout for an answer.
		{serving.NewServer(e.Handler(), 30*time.Second), ln},
		// /debug/pprof/profile runs for 30 s by default: leave room.
		{serving.NewServer(serving.Recover(e.log, e.m.panics, hmux), 90*time.Second), healthLn},
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- serving.Run(ctx, e.log, s.srv, s.ln) }()
	}
	var first error
	for range servers {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel() // one server failed: stop the other
		}
	}
	return first
}
