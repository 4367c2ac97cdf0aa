package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// failSafe only bounds how long a broken test hangs; no test relies on it.
const failSafe = 30 * time.Second

// recv receives from ch or fails the test if nothing arrives (a deadlock).
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(failSafe):
		t.Fatalf("nothing received on %T within %s", ch, failSafe)
		panic("unreachable")
	}
}

// gateBurner is a controllable burner: each Burn announces itself on started
// and then blocks until the test releases it or the pool is aborted.
type gateBurner struct {
	started chan gateCall
	calls   atomic.Int64
}

type gateCall struct {
	Work    work
	release chan error // send nil to finish, an error to fail
}

func newGateBurner() *gateBurner { return &gateBurner{started: make(chan gateCall)} }

func (g *gateBurner) Burn(ctx context.Context, w work) (burnResult, error) {
	g.calls.Add(1)
	c := gateCall{Work: w, release: make(chan error, 1)}
	select {
	case g.started <- c:
	case <-ctx.Done():
		return burnResult{}, ctx.Err()
	}
	select {
	case err := <-c.release:
		return burnResult{CPU: w.CPU, Mode: "gate"}, err
	case <-ctx.Done():
		return burnResult{}, ctx.Err()
	}
}

// panicBurner panics on every Burn.
type panicBurner struct{}

func (panicBurner) Burn(context.Context, work) (burnResult, error) { panic("burner exploded") }

func testConfig(workers int) config {
	return config{
		Workers:           workers,
		WorkersSource:     workersFromFlag,
		ShutdownTimeout:   time.Minute,
		ReadHeaderTimeout: 10 * time.Second,
		MaxBodyBytes:      1 << 20,
		MaxWork:           time.Hour,
		Node:              "node-a",
		Pod:               "pod-a",
	}
}

func testFacts() runtimeFacts {
	return runtimeFacts{PID: 4242, Hostname: "pod-a", GOMAXPROCSAtStart: 1, BurnMode: "gate"}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newTestApp serves a fake runtime with burner b over httptest. Cleanup
// aborts the pool first, so a failed test never leaves a burner blocked.
func newTestApp(t *testing.T, c config, b burner, hook func(poolEvent)) (*fakeRuntime, *httptest.Server) {
	t.Helper()
	s := newFakeRuntime(c, testFacts(), newPool(c.Workers, b, hook), discardLogger())
	ts := httptest.NewServer(s.handler())
	t.Cleanup(ts.Close)
	t.Cleanup(s.pool.abort)
	return s, ts
}

// reply is one finished HTTP exchange.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
	Err    error
}

func do(c *http.Client, method, url, body string) reply {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return reply{Err: err}
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b, Err: err}
}

// doAsync runs do in a goroutine; the reply arrives on the returned channel.
func doAsync(c *http.Client, method, url, body string) <-chan reply {
	ch := make(chan reply, 1)
	go func() { ch <- do(c, method, url, body) }()
	return ch
}

// mustJSON checks a reply's status and JSON content type and decodes it.
func mustJSON[T any](t *testing.T, r reply, wantStatus int) T {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("request failed: %v", r.Err)
	}
	if r.Status != wantStatus {
		t.Fatalf("status = %d, want %d; body %s", r.Status, wantStatus, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return v
}
