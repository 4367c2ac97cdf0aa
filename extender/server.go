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
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
)

// Listeners are the extender's three listeners.
type Listeners struct {
	// Protocol serves /filter and /prioritize (kube-scheduler, loopback).
	Protocol net.Listener
	// Health serves /healthz and /readyz.
	Health net.Listener
	// Private serves /metrics, /explain and /debug/pprof/ (Options.Private).
	Private net.Listener
}

// Run runs the extender until ctx ends: informers on kube, the NodeMetrics
// poller on metrics, the protocol on opts.ListenAddr, /healthz and /readyz
// on opts.HealthAddr, and /metrics (reg), /explain and /debug/pprof/ on
// opts.PrivateAddr.
func Run(ctx context.Context, opts Options, kube kubernetes.Interface, metrics metricsclient.Interface, log logr.Logger, reg *prometheus.Registry) error {
	if err := opts.ValidateServing(); err != nil {
		return fmt.Errorf("extender options: %w", err)
	}
	e, err := New(opts, log, reg)
	if err != nil {
		return err
	}
	var lns Listeners
	for _, l := range []struct {
		addr string
		ln   *net.Listener
	}{{opts.ListenAddr, &lns.Protocol}, {opts.HealthAddr, &lns.Health}, {opts.PrivateAddr, &lns.Private}} {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			lns.close()
			return fmt.Errorf("listening on %s: %w", l.addr, err)
		}
		*l.ln = ln
	}
	return e.Serve(ctx, kube, ClientMetricsSource(metrics), reg, lns)
}

// Serve runs the extender on the given listeners until ctx ends or a server
// fails. Readiness depends on the node and pod informers only: metrics
// are optional by design (the fallback covers their absence).
func (e *Extender) Serve(ctx context.Context, kube kubernetes.Interface, src MetricsSource, reg *prometheus.Registry, lns Listeners) error {
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
	pmux := http.NewServeMux()
	serving.RegisterMetrics(pmux, reg)
	pmux.Handle("GET /explain", e.explainHandler())
	if e.opts.Profiling {
		serving.RegisterProfiling(pmux)
	}

	e.auditCtx = ctx
	e.audit = newAuditor(func(ctx context.Context, ns, name string) (*v1.Pod, error) {
		return kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	}, e.clock, e.log.WithName("audit"), e.deletePod, e.m.phantoms.Inc)
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
		{serving.NewServer(e.Handler(), 30*time.Second), lns.Protocol},
		{serving.NewServer(serving.Recover(e.log, e.m.panics, hmux), 30*time.Second), lns.Health},
		// /debug/pprof/profile runs for 30 s by default: leave room.
		{e.opts.Private.Server(serving.Recover(e.log, e.m.panics, pmux), 90*time.Second), lns.Private},
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

func (l Listeners) close() {
	for _, ln := range []net.Listener{l.Protocol, l.Health, l.Private} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}
