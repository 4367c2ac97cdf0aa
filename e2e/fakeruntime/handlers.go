package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"
)

// fakeRuntime serves the fake runtime's HTTP API.
type fakeRuntime struct {
	cfg   config
	facts runtimeFacts
	pool  *pool
	log   *slog.Logger

	badRequests atomic.Uint64
	panics      atomic.Uint64

	onShutdown func() // optional; tests learn that graceful shutdown began
}

func newFakeRuntime(c config, f runtimeFacts, p *pool, log *slog.Logger) *fakeRuntime {
	return &fakeRuntime{cfg: c, facts: f, pool: p, log: log}
}

// handler routes the API; every route is covered by panic recovery.
func (s *fakeRuntime) handler() http.Handler {
	mux := http.NewServeMux()
	// hetida's router accepts a trailing slash as well.
	for _, path := range []string{"/engine/info", "/engine/info/{$}"} {
		mux.HandleFunc("GET "+path, s.handleInfo)
	}
	for _, path := range []string{"/engine/runtime", "/engine/runtime/{$}"} {
		mux.HandleFunc("POST "+path, s.handleRuntime)
	}
	mux.HandleFunc("GET /engine/env", s.handleEnv)
	mux.HandleFunc("GET /engine/stats", s.handleStats)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	return s.recoverPanics(mux)
}

type infoResponse struct {
	Version string `json:"version"`
	Runtime bool   `json:"runtime"`
	Fake    bool   `json:"fake"`
	Workers int    `json:"workers"`
	PID     int    `json:"pid"`
	Node    string `json:"node"`
	Pod     string `json:"pod"`
}

// handleInfo is the readiness endpoint; the real runtime answers {"version": ...}.
func (s *fakeRuntime) handleInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, infoResponse{
		Version: version, Runtime: true, Fake: true,
		Workers: s.cfg.Workers, PID: s.facts.PID, Node: s.cfg.Node, Pod: s.cfg.Pod,
	})
}

func (s *fakeRuntime) handleEnv(w http.ResponseWriter, r *http.Request) {
	all := false
	if r.URL.Query().Has("all") {
		var err error
		if all, err = strconv.ParseBool(r.URL.Query().Get("all")); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("query parameter all=%q is not a boolean", r.URL.Query().Get("all")))
			return
		}
	}
	writeJSON(w, http.StatusOK, buildEnvReport(s.cfg, s.facts, runtime.GOMAXPROCS(0), runtime.NumCPU(), all))
}

// executionResponse follows hetida's WorkflowExecutionResult (result,
// output_results_by_output_name, job_id) plus what the fake measured.
type executionResponse struct {
	Result          string          `json:"result"`
	OutputResults   map[string]any  `json:"output_results_by_output_name"`
	JobID           json.RawMessage `json:"job_id"`
	Execution       uint64          `json:"execution"`
	Worker          int             `json:"worker"`
	QueuedMS        float64         `json:"queued_ms"`
	RunMS           float64         `json:"run_ms"`
	CPUMS           float64         `json:"cpu_ms"`
	RequestedCPUMS  float64         `json:"requested_cpu_ms"`
	RequestedWallMS float64         `json:"requested_wall_ms"`
	BurnMode        string          `json:"burn_mode"`
	Node            string          `json:"node"`
	Pod             string          `json:"pod"`
}

func (s *fakeRuntime) handleRuntime(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	req, err := parseExecution(r.Body, r.URL.Query(), s.cfg.MaxWork)
	if err != nil {
		s.badRequests.Add(1)
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		writeError(w, status, err)
		return
	}
	if req.JobID == nil {
		req.JobID = newJobID()
	}
	ex, err := s.pool.execute(req.Work)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, errAborted) {
			status = http.StatusServiceUnavailable
		}
		s.log.Error("execution failed", "execution", ex.Seq, "worker", ex.Worker, "err", err)
		writeError(w, status, err)
		return
	}
	writeJSON(w, http.StatusOK, executionResponse{
		Result:          "ok",
		OutputResults:   map[string]any{},
		JobID:           req.JobID,
		Execution:       ex.Seq,
		Worker:          ex.Worker,
		QueuedMS:        ms(ex.Queued),
		RunMS:           ms(ex.Run),
		CPUMS:           ms(ex.Burn.CPU),
		RequestedCPUMS:  ms(req.Work.CPU),
		RequestedWallMS: ms(req.Work.Wall),
		BurnMode:        ex.Burn.Mode,
		Node:            s.cfg.Node,
		Pod:             s.cfg.Pod,
	})
}

func (s *fakeRuntime) stats() statsReport {
	return newStatsReport(s.pool.stats(), s.badRequests.Load(), s.panics.Load())
}

func (s *fakeRuntime) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.stats())
}

func (s *fakeRuntime) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	var buf bytes.Buffer
	_ = writeMetrics(&buf, s.stats()) // a bytes.Buffer does not fail
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// recoverPanics turns a handler panic into a 500 JSON error and counts it.
func (s *fakeRuntime) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			s.panics.Add(1)
			s.log.Error("handler panic", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			writeError(w, http.StatusInternalServerError, errors.New("internal error"))
		}()
		next.ServeHTTP(w, r)
	})
}

// errorResponse mirrors hetida's failed WorkflowExecutionResult.
type errorResponse struct {
	Result string `json:"result"`
	Error  string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, errorResponse{Result: "failure", Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"result":"failure","error":"cannot encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// newJobID is a random UUIDv4 as a JSON string, for requests without job_id.
func newJobID() json.RawMessage {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return json.RawMessage(fmt.Sprintf(`"%x-%x-%x-%x-%x"`, u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]))
}
