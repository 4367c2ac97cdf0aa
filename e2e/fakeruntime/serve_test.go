package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"
)

// startServe runs s.serve on a loopback listener until the returned cancel.
func startServe(t *testing.T, s *fakeRuntime) (base string, stop context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- s.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		s.pool.abort()
	})
	return "http://" + ln.Addr().String(), cancel, ch
}

// On SIGTERM (ctx done) the server stops accepting but lets the running and
// the queued execution finish, then returns nil.
func TestServeDrainsExecutionsOnShutdown(t *testing.T) {
	t.Parallel()
	gate := newGateBurner()
	events := make(chan poolEvent, 16)
	s := newFakeRuntime(testConfig(1), testFacts(), newPool(1, gate, func(e poolEvent) { events <- e }), discardLogger())
	shutdownBegan := make(chan struct{})
	s.onShutdown = func() { close(shutdownBegan) }
	base, stop, done := startServe(t, s)
	c := &http.Client{}

	mustJSON[infoResponse](t, do(c, http.MethodGet, base+"/engine/info", ""), http.StatusOK)
	running := doAsync(c, http.MethodPost, base+"/engine/runtime?cpu_ms=10", "")
	callRunning := recv(t, gate.started)
	queued := doAsync(c, http.MethodPost, base+"/engine/runtime?cpu_ms=20", "")
	for range 3 { // arrived+started, arrived
		recv(t, events)
	}

	stop()
	recv(t, shutdownBegan)
	callRunning.release <- nil
	recv(t, gate.started).release <- nil
	for _, ch := range []<-chan reply{running, queued} {
		if r := mustJSON[executionResponse](t, recv(t, ch), http.StatusOK); r.Result != "ok" {
			t.Fatalf("drained execution: %+v", r)
		}
	}
	if err := recv(t, done); err != nil {
		t.Fatalf("serve returned %v, want nil after a graceful drain", err)
	}
	if r := do(c, http.MethodGet, base+"/engine/info", ""); r.Err == nil {
		t.Fatalf("server still answers after shutdown: %d", r.Status)
	}
}

// When executions outlast the shutdown budget they are aborted and serve
// reports the timeout.
func TestServeAbortsExecutionsAfterShutdownTimeout(t *testing.T) {
	t.Parallel()
	gate := newGateBurner()
	cfg := testConfig(1)
	cfg.ShutdownTimeout = time.Millisecond
	events := make(chan poolEvent, 16)
	s := newFakeRuntime(cfg, testFacts(), newPool(1, gate, func(e poolEvent) { events <- e }), discardLogger())
	base, stop, done := startServe(t, s)

	res := doAsync(&http.Client{}, http.MethodPost, base+"/engine/runtime?cpu_ms=10", "")
	recv(t, gate.started) // never released: only the abort ends it
	stop()
	if err := recv(t, done); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("serve returned %v, want a shutdown deadline error", err)
	}
	recv(t, res) // the connection is closed or answered 503; either way the request ends
	for e := recv(t, events); e.Kind != eventFinished; e = recv(t, events) {
	}
	if st := s.pool.stats(); st.Aborted != 1 || st.Busy != 0 {
		t.Fatalf("stats after abort: %+v", st)
	}
}
