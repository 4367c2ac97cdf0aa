package main

import (
	"testing"

	"github.com/hdscale/hdscale/internal/policy"
)

func TestEvaluate(t *testing.T) {
	t.Parallel()
	o := options{NodeCPU: 4, Pattern: policy.PerCore, Replicas: 4, Executions: 8, ExecCPU: 10, Pool: "runtime"}
	loads := []float64{0, 3.5}
	tests := []struct {
		name      string
		perNode   []int
		makespan  float64
		imbalance float64
	}{
		// 2 workers on the idle node: 1 core each, 4 executions of 10 s in two rounds.
		// 2 on the busy one share 0.5 core: 0.25 each, 20 CPU-s each -> 80 s.
		{"even", []int{2, 2}, 80, 5.5 / 3.75},
		{"load-aware", []int{4, 0}, 20, 4 / 3.75},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vr := variantResult{Name: tt.name, PerNode: tt.perNode}
			evaluate(o, loads, &vr)
			if vr.Makespan != tt.makespan {
				t.Errorf("makespan = %v, want %v", vr.Makespan, tt.makespan)
			}
			if d := vr.Imbalance - tt.imbalance; d > 1e-9 || d < -1e-9 {
				t.Errorf("imbalance = %v, want %v", vr.Imbalance, tt.imbalance)
			}
		})
	}
}

func TestBestOfRound(t *testing.T) {
	t.Parallel()
	o := options{NodeCPU: 4, Pattern: policy.PerNode, Replicas: 1, Executions: 4, ExecCPU: 10, Pool: "runtime"}
	var r roundResult
	best(o, []float64{3, 0}, &r)
	// One 4-worker replica on the idle node runs the 4 executions at once.
	if r.Best != 10 || len(r.BestPerNode) != 2 || r.BestPerNode[1] != 1 {
		t.Fatalf("best = %v on %v", r.Best, r.BestPerNode)
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"-kubeconfig", "kc", "-loads", "0, 1.5,3", "-pattern", "per-node",
		"-variant", "default=default-scheduler", "-variant", "hdscale=hdscale-scheduler"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Nodes != 3 || o.Loads[1] != 1.5 || o.Pattern != policy.PerNode || len(o.Variants) != 2 {
		t.Fatalf("parsed %+v", o)
	}
	for name, args := range map[string][]string{
		"one variant":  {"-kubeconfig", "kc", "-variant", "a=b"},
		"bad load":     {"-kubeconfig", "kc", "-loads", "x", "-variant", "a=b", "-variant", "c=d"},
		"load too big": {"-kubeconfig", "kc", "-loads", "4", "-variant", "a=b", "-variant", "c=d"},
		"bad pattern":  {"-kubeconfig", "kc", "-pattern", "x", "-variant", "a=b", "-variant", "c=d"},
		"no config":    {"-variant", "a=b", "-variant", "c=d"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
