package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func getStats(t *testing.T, c *http.Client, base string) statsReport {
	t.Helper()
	return mustJSON[statsReport](t, do(c, http.MethodGet, base+"/engine/stats", ""), http.StatusOK)
}

// With WEB_CONCURRENCY=1 a second execution waits for the first one's
// worker: it is queued (stats and metrics say so) and starts only after the
// first one finished.
func TestRuntimeQueuesExecutionsBeyondWorkers(t *testing.T) {
	t.Parallel()
	gate := newGateBurner()
	events := make(chan poolEvent, 16)
	_, ts := newTestApp(t, testConfig(1), gate, func(e poolEvent) { events <- e })
	c := ts.Client()

	first := doAsync(c, http.MethodPost, ts.URL+"/engine/runtime?cpu_ms=1000", "")
	callFirst := recv(t, gate.started)
	expectEvent(t, events, poolEvent{eventArrived, 1, -1})
	expectEvent(t, events, poolEvent{eventStarted, 1, 0})

	second := doAsync(c, http.MethodPost, ts.URL+"/engine/runtime", `{"cpu_seconds": 2, "job_id": "job-2"}`)
	expectEvent(t, events, poolEvent{eventArrived, 2, -1})
	select {
	case call := <-gate.started:
		t.Fatalf("second execution (%+v) started while the only worker is busy", call.Work)
	default:
	}
	// Readiness, stats and metrics answer while the worker is busy.
	info := mustJSON[infoResponse](t, do(c, http.MethodGet, ts.URL+"/engine/info", ""), http.StatusOK)
	if !info.Runtime || info.Workers != 1 {
		t.Fatalf("info while busy: %+v", info)
	}
	if st := getStats(t, c, ts.URL); st.BusyWorkers != 1 || st.QueueLength != 1 || st.ExecutionsStarted != 1 || st.Executions != 0 {
		t.Fatalf("stats while queued: %+v", st)
	}
	m := do(c, http.MethodGet, ts.URL+"/metrics", "")
	for _, line := range []string{"hdscale_fakeruntime_workers_busy 1\n", "hdscale_fakeruntime_queue_length 1\n"} {
		if !strings.Contains(string(m.Body), line) {
			t.Fatalf("metrics lack %q:\n%s", line, m.Body)
		}
	}

	callFirst.release <- nil
	r1 := mustJSON[executionResponse](t, recv(t, first), http.StatusOK)
	expectEvent(t, events, poolEvent{eventFinished, 1, 0})
	expectEvent(t, events, poolEvent{eventStarted, 2, 0})
	callSecond := recv(t, gate.started)
	if callSecond.Work != (work{CPU: 2 * time.Second}) {
		t.Fatalf("second execution asked the burner for %+v", callSecond.Work)
	}
	callSecond.release <- nil
	r2 := mustJSON[executionResponse](t, recv(t, second), http.StatusOK)

	if r1.Result != "ok" || r1.Worker != 0 || r1.Execution != 1 || r1.RequestedCPUMS != 1000 ||
		r1.Node != "node-a" || r1.Pod != "pod-a" || r1.OutputResults == nil {
		t.Fatalf("first response: %+v", r1)
	}
	if !regexp.MustCompile(`^"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$`).Match(r1.JobID) {
		t.Fatalf("generated job_id %s is not a UUIDv4", r1.JobID)
	}
	if r2.Result != "ok" || r2.Worker != 0 || r2.Execution != 2 || r2.RequestedCPUMS != 2000 || string(r2.JobID) != `"job-2"` {
		t.Fatalf("second response: %+v", r2)
	}
	if st := getStats(t, c, ts.URL); st.BusyWorkers != 0 || st.QueueLength != 0 || st.Executions != 2 || st.CPUSeconds != 3 {
		t.Fatalf("stats after both: %+v", st)
	}
}

func TestRuntimeBadInput(t *testing.T) {
	t.Parallel()
	gate := newGateBurner()
	cfg := testConfig(1)
	cfg.MaxBodyBytes = 64
	s, ts := newTestApp(t, cfg, gate, nil)
	c := ts.Client()
	tests := []struct {
		name, query, body string
		wantStatus        int
		wantErr           string
	}{
		{"invalid JSON", "", `{"cpu_seconds":`, http.StatusBadRequest, "not valid JSON"},
		{"array body", "", `[]`, http.StatusBadRequest, "must be a JSON object"},
		{"string amount", "", `{"cpu_seconds":"lots"}`, http.StatusBadRequest, "field cpu_seconds"},
		{"negative amount", "", `{"wall_seconds":-1}`, http.StatusBadRequest, "wall_seconds must be a finite number >= 0"},
		{"too much work", "", `{"cpu_seconds":1e9}`, http.StatusBadRequest, "exceeds the maximum"},
		{"bad query", "?cpu_ms=fast", "", http.StatusBadRequest, `cpu_ms="fast" is not a number`},
		{"NaN query", "?cpu_ms=nan", "", http.StatusBadRequest, "finite"},
		{"body too large", "", `{"pad":"` + strings.Repeat("x", 100) + `"}`, http.StatusRequestEntityTooLarge, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := do(c, http.MethodPost, ts.URL+"/engine/runtime"+tt.query, tt.body)
			e := mustJSON[errorResponse](t, r, tt.wantStatus)
			if e.Result != "failure" || !strings.Contains(e.Error, tt.wantErr) {
				t.Fatalf("error body %+v, want it to contain %q", e, tt.wantErr)
			}
		})
	}
	t.Cleanup(func() {
		// Runs after the parallel subtests: nothing reached a worker.
		if n := gate.calls.Load(); n != 0 {
			t.Errorf("burner called %d times for bad input", n)
		}
		if st := s.stats(); st.BadRequests != uint64(len(tests)) || st.ExecutionsStarted != 0 {
			t.Errorf("stats: %+v, want %d bad requests and no executions", st, len(tests))
		}
	})
}

func TestRuntimeMethodAndTrailingSlash(t *testing.T) {
	t.Parallel()
	gate := newGateBurner()
	_, ts := newTestApp(t, testConfig(1), gate, nil)
	c := ts.Client()
	if r := do(c, http.MethodGet, ts.URL+"/engine/runtime", ""); r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("GET /engine/runtime: status %d", r.Status)
	}
	res := doAsync(c, http.MethodPost, ts.URL+"/engine/runtime/", `{"job_id": 17}`)
	recv(t, gate.started).release <- nil
	r := mustJSON[executionResponse](t, recv(t, res), http.StatusOK)
	if string(r.JobID) != "17" {
		t.Fatalf("job_id = %s, want the caller's 17", r.JobID)
	}
	mustJSON[infoResponse](t, do(c, http.MethodGet, ts.URL+"/engine/info/", ""), http.StatusOK)
}

func TestRuntimeBurnerFailures(t *testing.T) {
	t.Parallel()
	t.Run("panic", func(t *testing.T) {
		t.Parallel()
		_, ts := newTestApp(t, testConfig(1), panicBurner{}, nil)
		e := mustJSON[errorResponse](t, do(ts.Client(), http.MethodPost, ts.URL+"/engine/runtime", ""), http.StatusInternalServerError)
		if !strings.Contains(e.Error, "panicked") {
			t.Fatalf("error = %q", e.Error)
		}
	})
	t.Run("aborted", func(t *testing.T) {
		t.Parallel()
		gate := newGateBurner()
		s, ts := newTestApp(t, testConfig(1), gate, nil)
		res := doAsync(ts.Client(), http.MethodPost, ts.URL+"/engine/runtime", "")
		recv(t, gate.started)
		s.pool.abort()
		e := mustJSON[errorResponse](t, recv(t, res), http.StatusServiceUnavailable)
		if !strings.Contains(e.Error, "shutting down") {
			t.Fatalf("error = %q", e.Error)
		}
	})
}

func TestRecoverPanics(t *testing.T) {
	t.Parallel()
	s := newFakeRuntime(testConfig(1), testFacts(), newPool(1, panicBurner{}, nil), discardLogger())
	h := s.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("handler bug") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d", rec.Code)
	}
	var e errorResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Result != "failure" {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	if got := s.stats().Panics; got != 1 {
		t.Fatalf("panics = %d, want 1", got)
	}
}
