package pssim

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 || (math.IsInf(a, 1) && math.IsInf(b, 1)) }

func TestSimulate(t *testing.T) {
	t.Parallel()
	four := func(bg float64) Node { return Node{Cores: 4, Background: bg} }
	tests := []struct {
		name     string
		nodes    []Node
		replicas []Replica
		batch    Batch
		want     float64
	}{
		{
			name:     "idle node, one worker per replica, enough cores",
			nodes:    []Node{four(0)},
			replicas: []Replica{{0, 1}, {0, 1}},
			batch:    Batch{Executions: 4, CPUSeconds: 10},
			want:     20, // each replica runs 2 executions back to back at 1 core
		},
		{
			name:     "cores shared: 0.5 core left for 2 workers",
			nodes:    []Node{four(3.5)},
			replicas: []Replica{{0, 1}, {0, 1}},
			batch:    Batch{Executions: 2, CPUSeconds: 10},
			want:     40, // 0.25 core each
		},
		{
			name:     "slowest node decides",
			nodes:    []Node{four(0), four(3)},
			replicas: []Replica{{0, 1}, {1, 1}, {1, 1}},
			batch:    Batch{Executions: 3, CPUSeconds: 10},
			want:     20, // node 1: 1 core for 2 workers
		},
		{
			name:     "a finished worker frees its share",
			nodes:    []Node{four(3)},
			replicas: []Replica{{0, 1}, {0, 1}},
			batch:    Batch{Executions: 3, CPUSeconds: 10},
			// both at 0.5 until t=20; then replica 0's second execution alone at 1 core: 30
			want: 30,
		},
		{
			name:     "multi-worker replica runs executions concurrently",
			nodes:    []Node{four(0)},
			replicas: []Replica{{0, 4}},
			batch:    Batch{Executions: 8, CPUSeconds: 10},
			want:     20,
		},
		{
			name:     "worker speed cap",
			nodes:    []Node{four(0)},
			replicas: []Replica{{0, 1}},
			batch:    Batch{Executions: 1, CPUSeconds: 10, WorkerCores: 2},
			want:     5,
		},
		{
			name:     "no CPU left: never finishes",
			nodes:    []Node{four(4)},
			replicas: []Replica{{0, 1}},
			batch:    Batch{Executions: 1, CPUSeconds: 10},
			want:     math.Inf(1),
		},
		{
			name:     "no executions",
			nodes:    []Node{four(0)},
			replicas: []Replica{{0, 1}},
			batch:    Batch{Executions: 0, CPUSeconds: 10},
			want:     0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Simulate(tt.nodes, tt.replicas, tt.batch)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got.Makespan, tt.want) {
				t.Fatalf("makespan = %v, want %v", got.Makespan, tt.want)
			}
		})
	}
}

func TestSimulateRejects(t *testing.T) {
	t.Parallel()
	nodes := []Node{{Cores: 4}}
	for name, in := range map[string]struct {
		r []Replica
		b Batch
	}{
		"no replicas":       {nil, Batch{Executions: 1, CPUSeconds: 1}},
		"node out of range": {[]Replica{{1, 1}}, Batch{Executions: 1, CPUSeconds: 1}},
		"zero workers":      {[]Replica{{0, 0}}, Batch{Executions: 1, CPUSeconds: 1}},
		"zero work":         {[]Replica{{0, 1}}, Batch{Executions: 1}},
	} {
		if _, err := Simulate(nodes, in.r, in.b); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestDemandAndImbalance(t *testing.T) {
	t.Parallel()
	nodes := []Node{{Cores: 4, Background: 0}, {Cores: 4, Background: 2}}
	d := Demand(nodes, []Replica{{0, 1}, {0, 1}}, Batch{Executions: 1, CPUSeconds: 1})
	if d[0] != 2 || d[1] != 2 {
		t.Fatalf("demand = %v", d)
	}
	if got := Imbalance(d); got != 1 {
		t.Fatalf("imbalance = %v", got)
	}
	if got := Imbalance([]float64{3, 1}); got != 1.5 {
		t.Fatalf("imbalance = %v", got)
	}
	if !math.IsNaN(Imbalance([]float64{0, 0})) {
		t.Fatal("zero demand must give NaN")
	}
}

func TestBest(t *testing.T) {
	t.Parallel()
	loads := []Node{{4, 0}, {4, 0.5}, {4, 1}, {4, 2}, {4, 3}, {4, 3.5}}
	b := Batch{Executions: 48, CPUSeconds: 10}
	tests := []struct {
		name                      string
		replicas, workers, perNod int
		want                      float64
	}{
		// 12 one-worker replicas, up to 4 per node: every worker can get a full
		// core (e.g. 4+3+3+2), so 4 executions of 10 s each.
		{"per-core", 12, 1, 4, 40},
		// 4 four-worker replicas, one per node: the 4th-best node has 2 free
		// cores for 12 executions of 10 CPU-s.
		{"per-node", 4, 4, 1, 60},
		// 4 one-worker replicas: any node with a free core is as good.
		{"per-node-single", 4, 1, 1, 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, per, ok := Best(loads, tt.replicas, tt.workers, tt.perNod, b)
			if !ok || !near(got, tt.want) {
				t.Fatalf("Best = %v (%v, ok %v), want %v", got, per, ok, tt.want)
			}
			sum := 0
			for _, k := range per {
				sum += k
			}
			if sum != tt.replicas {
				t.Fatalf("placement %v has %d replicas, want %d", per, sum, tt.replicas)
			}
		})
	}
	if _, _, ok := Best(loads, 13, 1, 2, b); ok {
		t.Fatal("13 replicas at most 2 per node on 6 nodes cannot be placed")
	}
}
