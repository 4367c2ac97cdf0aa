package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeRuntime answers like e2e/fakeruntime and counts the TCP connections
// it accepted.
func fakeRuntime(t *testing.T, fail bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /engine/info", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"pod":"p1"}`))
	})
	mux.HandleFunc("POST /engine/runtime", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			CPUSeconds float64 `json:"cpu_seconds"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.CPUSeconds != 0.5 {
			http.Error(w, `{"result":"failure","error":"bad body"}`, http.StatusBadRequest)
			return
		}
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"result":"failure","error":"shutting down"}`))
			return
		}
		_, _ = w.Write([]byte(`{"result":"ok","pod":"p1","node":"n1","queued_ms":1,"run_ms":2,"cpu_ms":2}`))
	})
	s := httptest.NewUnstartedServer(mux)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &conns
}

func TestRunBatch(t *testing.T) {
	t.Parallel()
	s, conns := fakeRuntime(t, false)
	var out bytes.Buffer
	o := options{URL: s.URL, Executions: 20, CPUSeconds: 0.5, Connections: 3}
	if err := runBatch(context.Background(), o, json.NewEncoder(&out)); err != nil {
		t.Fatal(err)
	}
	recs, sum := decode(t, out.String())
	if len(recs) != 20 || sum.Failed != 0 || len(sum.ConnPods) != 3 || sum.ConnPods[0] != "p1" {
		t.Fatalf("%d records, summary %+v; want 20 records, none failed, 3 connections to p1", len(recs), sum)
	}
	seen := map[int]bool{}
	for _, r := range recs {
		if r.Pod != "p1" || r.Node != "n1" || r.EndMs < r.StartMs || r.EndMs > sum.MakespanMs {
			t.Fatalf("record %+v inconsistent with summary %+v", r, sum)
		}
		seen[r.Exec] = true
	}
	if len(seen) != 20 {
		t.Fatalf("%d distinct executions, want 20", len(seen))
	}
	// Kept alive: one TCP connection per client connection, not per request.
	if n := conns.Load(); n != 3 {
		t.Fatalf("server accepted %d connections, want 3", n)
	}
}

func TestRunBatchFailures(t *testing.T) {
	t.Parallel()
	s, _ := fakeRuntime(t, true)
	var out bytes.Buffer
	o := options{URL: s.URL, Executions: 4, CPUSeconds: 0.5, Connections: 2}
	if err := runBatch(context.Background(), o, json.NewEncoder(&out)); err != nil {
		t.Fatal(err)
	}
	recs, sum := decode(t, out.String())
	if sum.Failed != 4 || len(recs) != 4 || !strings.Contains(recs[0].Err, "shutting down") {
		t.Fatalf("summary %+v, first record %+v; want 4 failed with the runtime's error", sum, recs[0])
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	if _, err := parseFlags([]string{"-url", "http://x", "-executions", "3"}); err != nil {
		t.Fatalf("valid flags: %v", err)
	}
	for _, args := range [][]string{{}, {"-url", "http://x", "-connections", "0"}, {"-url", "http://x", "-cpu-seconds", "0"}} {
		if _, err := parseFlags(args); err == nil {
			t.Fatalf("parseFlags(%q): no error", args)
		}
	}
}

func decode(t *testing.T, out string) ([]Record, Summary) {
	t.Helper()
	var recs []Record
	var sum Summary
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"summary":true`) {
			if err := json.Unmarshal(sc.Bytes(), &sum); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs, sum
}
