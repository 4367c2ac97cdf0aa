package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		args, env   []string
		wantPort    int
		wantWorkers int
		wantSource  string
		wantErr     string
	}{
		{name: "defaults", wantPort: 8090, wantWorkers: 1, wantSource: workersFromDefault},
		{name: "env", env: []string{"PORT=9000", "WEB_CONCURRENCY=4"}, wantPort: 9000, wantWorkers: 4, wantSource: workersFromEnv},
		{name: "env with spaces", env: []string{"WEB_CONCURRENCY= 3 "}, wantPort: 8090, wantWorkers: 3, wantSource: workersFromEnv},
		{name: "flags win over env", args: []string{"-port", "7000", "-workers", "2"},
			env: []string{"PORT=9000", "WEB_CONCURRENCY=4"}, wantPort: 7000, wantWorkers: 2, wantSource: workersFromFlag},
		{name: "first env entry wins", env: []string{"WEB_CONCURRENCY=2", "WEB_CONCURRENCY=5"}, wantPort: 8090, wantWorkers: 2, wantSource: workersFromEnv},
		{name: "MAX_WORKERS is only reported", env: []string{"WEB_CONCURRENCY=4", "MAX_WORKERS=2"}, wantPort: 8090, wantWorkers: 4, wantSource: workersFromEnv},
		{name: "zero workers", env: []string{"WEB_CONCURRENCY=0"}, wantErr: "workers 0 out of range"},
		{name: "negative workers", env: []string{"WEB_CONCURRENCY=-2"}, wantErr: "workers -2 out of range"},
		{name: "too many workers", args: []string{"-workers", "5000"}, wantErr: "out of range"},
		{name: "non-integer workers", env: []string{"WEB_CONCURRENCY=two"}, wantErr: `WEB_CONCURRENCY="two" is not an integer`},
		{name: "empty workers", env: []string{"WEB_CONCURRENCY="}, wantErr: `WEB_CONCURRENCY="" is not an integer`},
		{name: "bad port", env: []string{"PORT=http"}, wantErr: `PORT="http" is not an integer`},
		{name: "port out of range", args: []string{"-port", "70000"}, wantErr: "port 70000 out of range"},
		{name: "bad shutdown timeout", args: []string{"-shutdown-timeout", "0s"}, wantErr: "shutdown timeout must be positive"},
		{name: "unknown flag", args: []string{"-bogus"}, wantErr: "flag provided but not defined"},
		{name: "positional argument", args: []string{"serve"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseConfig(tt.args, tt.env, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Port != tt.wantPort || c.Workers != tt.wantWorkers || c.WorkersSource != tt.wantSource {
				t.Fatalf("port, workers, source = %d, %d, %q; want %d, %d, %q",
					c.Port, c.Workers, c.WorkersSource, tt.wantPort, tt.wantWorkers, tt.wantSource)
			}
		})
	}
}

func TestParseConfigDownwardAPI(t *testing.T) {
	t.Parallel()
	c, err := parseConfig(nil, []string{"NODE_NAME=node-1", "POD_NAME=runtime-0", "=C:=C:\\", "garbage"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Node != "node-1" || c.Pod != "runtime-0" {
		t.Fatalf("node, pod = %q, %q", c.Node, c.Pod)
	}
	if c.ShutdownTimeout != defaultShutdown || c.MaxWork != time.Hour {
		t.Fatalf("defaults not applied: %+v", c)
	}
}
