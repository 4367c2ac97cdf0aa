package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		v2   bool
		want time.Duration
		err  bool
	}{
		{name: "v1 nanoseconds", text: "1500000000\n", want: 1500 * time.Millisecond},
		{name: "v2 cpu.stat", text: "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n", v2: true, want: 2500 * time.Millisecond},
		{name: "v1 garbage", text: "abc", err: true},
		{name: "v2 without usage", text: "user_usec 1\n", v2: true, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseUsage(tc.text, tc.v2)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("parseUsage(%q) = %v, %v; want %v, error %v", tc.text, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestCoresBetween(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(100, 0)
	a := cpuSample{At: t0, Usage: map[string]time.Duration{"n1": 0, "n2": time.Second}}
	b := cpuSample{At: t0.Add(2 * time.Second), Usage: map[string]time.Duration{"n1": time.Second, "n2": 2 * time.Second}}
	got := coresBetween(a, b, []string{"n2", "n1"})
	if len(got) != 2 || got[0] != 0.5 || got[1] != 0.5 {
		t.Fatalf("coresBetween = %v, want [0.5 0.5]", got)
	}
	if got := coresBetween(b, b, []string{"n1"}); got[0] != 0 {
		t.Fatalf("coresBetween over no time = %v, want 0", got)
	}
}

func TestParseBatch(t *testing.T) {
	t.Parallel()
	podNode := map[string]string{"p1": "n1", "p2": "n2"}
	nodes := []string{"n1", "n2", "n3"}
	out := strings.Join([]string{
		`{"conn":0,"exec":0,"startMs":0,"endMs":1000,"pod":"p1","node":"n1","queuedMs":0}`,
		`{"conn":1,"exec":1,"startMs":0,"endMs":3000,"pod":"p2","queuedMs":1000}`,
		`{"conn":0,"exec":2,"startMs":1000,"endMs":2000,"pod":"p1","node":"n1","queuedMs":0}`,
		`{"summary":true,"makespanMs":3000,"failed":0,"connPods":["p1","p2"]}`,
		``,
	}, "\n")
	r, err := parseBatch(out, podNode, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if r.Makespan != 3 || r.Done != 3 || r.Failed != 0 || r.P50 != 1 {
		t.Fatalf("makespan %v done %d failed %d p50 %v; want 3, 3, 0, 1", r.Makespan, r.Done, r.Failed, r.P50)
	}
	if want := []int{2, 1, 0}; !equalInts(r.ExecsPerNode, want) {
		t.Fatalf("executions per node %v, want %v", r.ExecsPerNode, want)
	}
	if want := []int{1, 1, 0}; !equalInts(r.ConnsPerNode, want) {
		t.Fatalf("connections per node %v, want %v", r.ConnsPerNode, want)
	}
	if math.Abs(r.P99-2.96) > 1e-9 { // latencies 1 3 1 s
		t.Fatalf("p99 %v, want 2.96", r.P99)
	}
}

func TestParseBatchErrors(t *testing.T) {
	t.Parallel()
	for name, out := range map[string]string{
		"no summary": `{"conn":0,"exec":0,"startMs":0,"endMs":1000,"pod":"p1"}`,
		"not JSON":   "execload: connection 0: refused",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := parseBatch(out, nil, []string{"n1"}); err == nil {
				t.Fatalf("parseBatch(%q): no error", out)
			}
		})
	}
	r, err := parseBatch(`{"conn":0,"exec":0,"err":"EOF"}`+"\n"+`{"summary":true,"makespanMs":5,"failed":1}`, nil, []string{"n1"})
	if err != nil || r.Failed != 1 || r.Done != 0 {
		t.Fatalf("failed execution: %+v, %v; want 1 failed", r, err)
	}
}

func TestModelMakespan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		background  []float64
		perNode     []int
		workers     int
		workerCores float64
		want        float64
	}{
		// 8 executions of 1 CPU-s, round-robin over 2 replicas of 2 workers
		// on idle nodes of 0.5 cores: 4 CPU-s per node at 0.5 cores.
		{name: "idle nodes", background: []float64{0, 0, 0}, perNode: []int{0, 1, 1}, workers: 2, workerCores: 0.5, want: 8},
		// The same with one replica on a node that has 0.25 cores left.
		{name: "loaded node", background: []float64{0.25, 0, 0}, perNode: []int{1, 0, 1}, workers: 2, workerCores: 0.5, want: 16},
		// Per-core: workers capped by their limit (0.25 cores), 2 per node.
		{name: "worker cap", background: []float64{0, 0, 0}, perNode: []int{2, 2, 0}, workers: 1, workerCores: 0.25, want: 8},
		{name: "starved", background: []float64{0.6, 0, 0}, perNode: []int{1, 1, 0}, workers: 1, workerCores: 0.5, want: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := modelMakespan(0.5, tc.background, tc.perNode, tc.workers, tc.workerCores, 8, 1)
			if math.Abs(got-tc.want) > 1e-6 {
				t.Fatalf("modelMakespan = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	o := options{Pattern: "per-node", Replicas: 2, Quota: 0.5, Background: 0.3, Executions: 8, ExecCPU: 1, Connections: 8}
	round := func(r int, loaded string, dflt, hd float64) roundResult {
		v := func(name string, mk float64, per []int) variantResult {
			return variantResult{Name: name, PerNode: per, NodeCPU: []float64{0.5, 0.4, 0.3},
				Batch: batchResult{Makespan: mk, P50: mk / 2, P99: mk}, ModelMakespan: mk}
		}
		return roundResult{Round: r, Nodes: []string{"a", "b", "c"}, Loaded: loaded,
			Variants: []variantResult{v("default", dflt, []int{1, 1, 0}), v("hdscale", hd, []int{0, 1, 1})}}
	}
	rep := summarize(o, []roundResult{round(0, "a", 20, 10), round(1, "b", 10, 10), round(2, "c", 16, 12)})
	if rep.MedianRatio != 0.75 || rep.ModelMedianRatio != 0.75 {
		t.Fatalf("median ratios %v / %v, want 0.75 / 0.75", rep.MedianRatio, rep.ModelMedianRatio)
	}
	d, h := rep.Summary[0], rep.Summary[1]
	if d.MedianMakespan != 16 || h.MedianMakespan != 10 || d.ModelOverMeasured != 1 {
		t.Fatalf("summary %+v %+v", d, h)
	}
	// default: 1 replica on the loaded node in rounds 0 (a) and 1 (b); hdscale in rounds 1 (b) and 2 (c).
	if d.OnLoaded != 2 || h.OnLoaded != 2 {
		t.Fatalf("replicas on the loaded node %d / %d, want 2 / 2", d.OnLoaded, h.OnLoaded)
	}
	var b strings.Builder
	rep.markdown(&b)
	if !strings.Contains(b.String(), "**0.75**") || !strings.Contains(b.String(), "1* 1 0") {
		t.Fatalf("markdown lacks the ratio or the marked placement:\n%s", b.String())
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := options{Kubeconfig: "k", Pattern: "per-core", Replicas: 4, Quota: 0.5, Background: 0.3, Executions: 8, ExecCPU: 1,
		Connections: 8, Rounds: 1, RuntimeImage: "r", ClientImage: "c"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	tests := map[string]func(o *options){
		"no kubeconfig":         func(o *options) { o.Kubeconfig = "" },
		"bad pattern":           func(o *options) { o.Pattern = "per-pod" },
		"background over quota": func(o *options) { o.Background = 0.5 },
		"no images":             func(o *options) { o.ClientImage = "" },
		"no rounds":             func(o *options) { o.Rounds = 0 },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := ok
			mutate(&o)
			if err := o.Validate(); err == nil {
				t.Fatalf("%s: no error", name)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
