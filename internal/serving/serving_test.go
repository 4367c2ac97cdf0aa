package serving

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	h := NewHealth()
	mux := http.NewServeMux()
	h.Register(mux)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Fatalf("no checks: readyz = %d", code)
	}
	h.AddReadyCheck("informers", func() error { return errors.New("nodes not synced") })
	h.AddReadyCheck("tls", func() error { return nil })
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "informers: nodes not synced") || strings.Contains(body, "tls") {
		t.Fatalf("readyz = %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("healthz = %d", code)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "hdscale_test_total", Help: "t"})
	reg.MustRegister(c)
	c.Inc()
	mux := http.NewServeMux()
	RegisterMetrics(mux, reg)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "hdscale_test_total 1") {
		t.Fatalf("metrics output lacks the counter: %s", rec.Body.String())
	}
}

func TestRecover(t *testing.T) {
	t.Parallel()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "p", Help: "p"})
	h := Recover(logr.Discard(), c, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/x", nil))
	if rec.Code != http.StatusInternalServerError || testutil.ToFloat64(c) != 1 {
		t.Fatalf("code=%d panics=%v", rec.Code, testutil.ToFloat64(c))
	}
}

func TestRunShutsDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hi") })}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, logr.Discard(), srv, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v after cancel", err)
	}
}
