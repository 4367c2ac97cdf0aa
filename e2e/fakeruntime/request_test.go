package main

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseExecution(t *testing.T) {
	t.Parallel()
	const hetidaShaped = `{
		"code_modules": [], "components": [],
		"workflow": {"id": "w", "sub_nodes": [], "connections": [], "inputs": [], "outputs": []},
		"configuration": {"engine": "plain", "run_pure_plot_operators": false},
		"workflow_wiring": {"input_wirings": [], "output_wirings": []},
		"job_id": "7c5a0b7e-0000-4000-8000-000000000001",
		"cpu_seconds": 1.5, "wall_seconds": 0.25
	}`
	tests := []struct {
		name      string
		body      string
		query     string
		wantCPU   time.Duration
		wantWall  time.Duration
		wantJobID string
		wantErr   string
	}{
		{name: "empty body, no query"},
		{name: "whitespace body", body: " \n\t"},
		{name: "empty object", body: `{}`},
		{name: "hetida shape", body: hetidaShaped, wantCPU: 1500 * time.Millisecond, wantWall: 250 * time.Millisecond,
			wantJobID: `"7c5a0b7e-0000-4000-8000-000000000001"`},
		{name: "query only", query: "cpu_ms=20&wall_ms=5.5", wantCPU: 20 * time.Millisecond, wantWall: 5500 * time.Microsecond},
		{name: "query wins over body", body: `{"cpu_seconds": 9, "wall_seconds": 1}`, query: "cpu_ms=10",
			wantCPU: 10 * time.Millisecond, wantWall: time.Second},
		{name: "null job id", body: `{"job_id": null}`},
		{name: "null amounts", body: `{"cpu_seconds": null}`},
		{name: "at the maximum", query: "cpu_ms=3600000", wantCPU: time.Hour},
		{name: "negative zero", body: `{"cpu_seconds": -0}`},

		{name: "invalid JSON", body: `{"cpu_seconds": `, wantErr: "not valid JSON"},
		{name: "not JSON", body: `cpu=1`, wantErr: "not valid JSON"},
		{name: "array", body: `[1]`, wantErr: "must be a JSON object, got an array"},
		{name: "null body", body: `null`, wantErr: "got null"},
		{name: "number body", body: `1`, wantErr: "got a number"},
		{name: "two objects", body: `{} {}`, wantErr: "unexpected data after the JSON object"},
		{name: "trailing garbage", body: `{} x`, wantErr: "unexpected data after the JSON object"},
		{name: "string amount", body: `{"cpu_seconds": "1"}`, wantErr: "field cpu_seconds: want a number of seconds, got JSON string"},
		{name: "huge number", body: `{"wall_seconds": 1e400}`, wantErr: "field wall_seconds"},
		{name: "negative body amount", body: `{"cpu_seconds": -1}`, wantErr: "cpu_seconds must be a finite number >= 0"},
		{name: "over the maximum", body: `{"wall_seconds": 3601}`, wantErr: "wall_seconds=3601 exceeds the maximum of 1h0m0s"},
		{name: "query not a number", query: "cpu_ms=abc", wantErr: `cpu_ms="abc" is not a number`},
		{name: "query empty", query: "cpu_ms=", wantErr: `cpu_ms="" is not a number`},
		{name: "query NaN", query: "cpu_ms=NaN", wantErr: "cpu_ms must be a finite number"},
		{name: "query Inf", query: "wall_ms=%2BInf", wantErr: "wall_ms must be a finite number"},
		{name: "query negative", query: "cpu_ms=-5", wantErr: "cpu_ms must be a finite number >= 0"},
		{name: "query over the maximum", query: "cpu_ms=3600001", wantErr: "exceeds the maximum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			req, err := parseExecution(strings.NewReader(tt.body), q, time.Hour)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Work.CPU != tt.wantCPU || req.Work.Wall != tt.wantWall {
				t.Fatalf("work = %+v, want cpu %s wall %s", req.Work, tt.wantCPU, tt.wantWall)
			}
			if string(req.JobID) != tt.wantJobID {
				t.Fatalf("job id = %s, want %s", req.JobID, tt.wantJobID)
			}
		})
	}
}
