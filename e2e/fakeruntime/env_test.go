package main

import (
	"io"
	"net/http"
	"os"
	"runtime"
	"testing"
)

func TestInfo(t *testing.T) {
	t.Parallel()
	_, ts := newTestApp(t, testConfig(3), newGateBurner(), nil)
	info := mustJSON[infoResponse](t, do(ts.Client(), http.MethodGet, ts.URL+"/engine/info", ""), http.StatusOK)
	want := infoResponse{Version: version, Runtime: true, Fake: true, Workers: 3, PID: 4242, Node: "node-a", Pod: "pod-a"}
	if info != want {
		t.Fatalf("info = %+v, want %+v", info, want)
	}
}

func TestEnvReportsTheGivenEnvironment(t *testing.T) {
	t.Parallel()
	env := []string{
		"WEB_CONCURRENCY=3", "MAX_WORKERS=8", "HD_IS_RUNTIME_SERVICE=true", "HD_IS_BACKEND_SERVICE=false",
		"POD_NAME=runtime-7", "NODE_NAME=worker-2", "UNRELATED=secret-ish",
	}
	cfg, err := parseConfig(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, ts := newTestApp(t, cfg, newGateBurner(), nil)
	c := ts.Client()

	r := mustJSON[envReport](t, do(c, http.MethodGet, ts.URL+"/engine/env", ""), http.StatusOK)
	wantSet := map[string]string{
		"WEB_CONCURRENCY": "3", "MAX_WORKERS": "8", "HD_IS_RUNTIME_SERVICE": "true",
		"HD_IS_BACKEND_SERVICE": "false", "POD_NAME": "runtime-7", "NODE_NAME": "worker-2",
	}
	for _, k := range reportedEnv {
		got, ok := r.Env[k]
		if !ok {
			t.Errorf("env lacks key %s", k)
			continue
		}
		want, set := wantSet[k]
		switch {
		case set && (got == nil || *got != want):
			t.Errorf("env[%s] = %v, want %q", k, got, want)
		case !set && got != nil:
			t.Errorf("env[%s] = %q, want null (unset)", k, *got)
		}
	}
	if r.All != nil {
		t.Errorf("all reported without ?all: %v", r.All)
	}
	if r.Workers != 3 || r.WorkersSource != workersFromEnv || r.Node != "worker-2" || r.Pod != "runtime-7" {
		t.Errorf("report: %+v", r)
	}
	if r.GOMAXPROCS != runtime.GOMAXPROCS(0) || r.NumCPU != runtime.NumCPU() || r.GOMAXPROCSAtStart != 1 || r.PID != 4242 {
		t.Errorf("process facts: %+v", r)
	}

	all := mustJSON[envReport](t, do(c, http.MethodGet, ts.URL+"/engine/env?all=1", ""), http.StatusOK)
	if len(all.All) != len(env) || all.All["UNRELATED"] != "secret-ish" || all.All["WEB_CONCURRENCY"] != "3" {
		t.Errorf("all = %v", all.All)
	}
	if off := mustJSON[envReport](t, do(c, http.MethodGet, ts.URL+"/engine/env?all=false", ""), http.StatusOK); off.All != nil {
		t.Errorf("all=false reported %v", off.All)
	}
	e := mustJSON[errorResponse](t, do(c, http.MethodGet, ts.URL+"/engine/env?all=maybe", ""), http.StatusBadRequest)
	if e.Error != `query parameter all="maybe" is not a boolean` {
		t.Errorf("error = %q", e.Error)
	}
}

func TestEnvReportUnsetIsNull(t *testing.T) {
	t.Parallel()
	r := buildEnvReport(config{Workers: 1, WorkersSource: workersFromDefault}, runtimeFacts{PID: os.Getpid()}, 2, 4, false)
	for _, k := range reportedEnv {
		if v, ok := r.Env[k]; !ok || v != nil {
			t.Errorf("env[%s] = %v, %v; want present and null", k, v, ok)
		}
	}
	if r.GOMAXPROCS != 2 || r.NumCPU != 4 {
		t.Errorf("report: %+v", r)
	}
}
