package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
)

// run starts the fake runtime and serves until ctx is done (SIGTERM).
func run(ctx context.Context, args, env []string, stderr io.Writer) error {
	cfg, err := parseConfig(args, env, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	b := newSpinBurner()
	facts := gatherFacts(cfg, b.Mode())
	s := newFakeRuntime(cfg, facts, newPool(cfg.Workers, b, nil), log)

	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("fake hetida runtime listening", "addr", ln.Addr().String(), "version", version,
		"workers", cfg.Workers, "workers_source", cfg.WorkersSource, "burn_mode", facts.BurnMode,
		"gomaxprocs", runtime.GOMAXPROCS(0), "gomaxprocs_at_start", facts.GOMAXPROCSAtStart,
		"node", cfg.Node, "pod", cfg.Pod)
	return s.serve(ctx, ln)
}

// serve serves on ln until ctx is done, then shuts down gracefully: it stops
// accepting, lets running and queued executions finish within
// cfg.ShutdownTimeout, and after that aborts them (503) and closes.
func (s *fakeRuntime) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		// No ReadTimeout/WriteTimeout: an execution is one long synchronous
		// request and must not be cut off.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.onShutdown != nil {
		srv.RegisterOnShutdown(s.onShutdown)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	st := s.pool.stats()
	s.log.Info("shutting down", "busy_workers", st.Busy, "queue_length", st.Queued, "timeout", s.cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	<-serveErr // http.ErrServerClosed once Shutdown has begun
	if err != nil {
		st := s.pool.stats()
		s.log.Warn("graceful shutdown timed out, aborting executions", "busy_workers", st.Busy, "queue_length", st.Queued)
		s.pool.abort()
		_ = srv.Close()
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	s.pool.abort()
	s.log.Info("shut down")
	return nil
}
