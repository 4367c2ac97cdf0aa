package policy

import "testing"

func TestSize(t *testing.T) {
	t.Parallel()
	// node4: a 4-CPU reference node, DaemonSets reserving 200m.
	node4 := Budget{NodeCPUMilli: 4000, ReservedCPUMilli: 200, Containers: 1, Source: SizedFromPool}
	with := func(b Budget, f func(*Budget)) Budget { f(&b); return b }
	tests := []struct {
		name string
		ns   Namespace
		b    Budget
		want Sizing
	}{
		{"per-node", Namespace{Pattern: PerNode, WorkersPerCore: 1}, node4,
			Sizing{CPURequestMilli: 3800, CPULimitMilli: 4000, Workers: 4, NodeCPUMilli: 4000, PodCPUMilli: 3800, PerNode: 1, Source: SizedFromPool}},
		{"per-node 2 workers per core", Namespace{Pattern: PerNode, WorkersPerCore: 2}, node4,
			Sizing{CPURequestMilli: 3800, CPULimitMilli: 4000, Workers: 8, NodeCPUMilli: 4000, PodCPUMilli: 3800, PerNode: 1, Source: SizedFromPool}},
		{"per-node with a 100m sidecar", Namespace{Pattern: PerNode, WorkersPerCore: 1}, with(node4, func(b *Budget) { b.OtherCPUMilli = 100 }),
			Sizing{CPURequestMilli: 3700, CPULimitMilli: 4000, Workers: 4, NodeCPUMilli: 4000, PodCPUMilli: 3800, PerNode: 1, Source: SizedFromPool}},
		{"per-node two runtime containers split the node", Namespace{Pattern: PerNode, WorkersPerCore: 1}, with(node4, func(b *Budget) { b.Containers = 2 }),
			Sizing{CPURequestMilli: 1900, CPULimitMilli: 2000, Workers: 2, NodeCPUMilli: 4000, PodCPUMilli: 3800, PerNode: 1, Source: SizedFromPool}},
		{"per-node fractional node", Namespace{Pattern: PerNode, WorkersPerCore: 1}, Budget{NodeCPUMilli: 3500, Containers: 1, Source: SizedFromPool},
			Sizing{CPURequestMilli: 3500, CPULimitMilli: 3500, Workers: 3, NodeCPUMilli: 3500, PodCPUMilli: 3500, PerNode: 1, Source: SizedFromPool}},
		{"per-node tiny node", Namespace{Pattern: PerNode, WorkersPerCore: 1}, Budget{NodeCPUMilli: 500, Containers: 1, Source: SizedFromPool},
			Sizing{CPURequestMilli: 500, CPULimitMilli: 500, Workers: 1, NodeCPUMilli: 500, PodCPUMilli: 500, PerNode: 1, Source: SizedFromPool}},
		{"per-node daemonsets take everything: does not fit", Namespace{Pattern: PerNode, WorkersPerCore: 1}, Budget{NodeCPUMilli: 2000, ReservedCPUMilli: 2500, Containers: 1, Source: SizedFromPool},
			Sizing{CPURequestMilli: MinRequestMilli, CPULimitMilli: 2000, Workers: 2, NodeCPUMilli: 2000, PodCPUMilli: MinRequestMilli, PerNode: 0, Source: SizedFromPool}},
		{"per-node-single", Namespace{Pattern: PerNodeSingle, WorkersPerCore: 3}, node4,
			Sizing{CPURequestMilli: 3800, CPULimitMilli: 4000, Workers: 1, NodeCPUMilli: 4000, PodCPUMilli: 3800, PerNode: 1, Source: SizedFromPool}},
		{"per-node override", Namespace{Pattern: PerNode, WorkersPerCore: 1, CPUMilli: 2000}, node4,
			Sizing{CPURequestMilli: 2000, CPULimitMilli: 2000, Workers: 2, NodeCPUMilli: 4000, PodCPUMilli: 2000, PerNode: 1, Source: SizedFromOverride}},
		{"per-node declared shape", Namespace{Pattern: PerNode, WorkersPerCore: 1}, Budget{NodeCPUMilli: 8000, Containers: 1, Source: SizedFromDeclared},
			Sizing{CPURequestMilli: 8000, CPULimitMilli: 8000, Workers: 8, NodeCPUMilli: 8000, PodCPUMilli: 8000, PerNode: 1, Source: SizedFromDeclared}},
		{"per-node no node shape: unsized", Namespace{Pattern: PerNode, WorkersPerCore: 1}, Budget{OtherCPUMilli: 100, Containers: 1},
			Sizing{Source: Unsized}},
		{"per-node no node shape, override", Namespace{Pattern: PerNode, WorkersPerCore: 1, CPUMilli: 3000}, Budget{Containers: 1},
			Sizing{CPURequestMilli: 3000, CPULimitMilli: 3000, Workers: 3, PodCPUMilli: 3000, Source: SizedFromOverride}},
		{"per-core", Namespace{Pattern: PerCore, WorkersPerCore: 4}, node4,
			Sizing{CPURequestMilli: 1000, CPULimitMilli: 1000, Workers: 1, NodeCPUMilli: 4000, PodCPUMilli: 1000, PerNode: 3, Source: SizedFromPool}},
		{"per-core with a 100m sidecar", Namespace{Pattern: PerCore}, with(node4, func(b *Budget) { b.OtherCPUMilli = 100; b.ReservedCPUMilli = 0 }),
			Sizing{CPURequestMilli: 1000, CPULimitMilli: 1000, Workers: 1, NodeCPUMilli: 4000, PodCPUMilli: 1100, PerNode: 3, Source: SizedFromPool}},
		{"per-core override", Namespace{Pattern: PerCore, CPUMilli: 500}, node4,
			Sizing{CPURequestMilli: 500, CPULimitMilli: 500, Workers: 1, NodeCPUMilli: 4000, PodCPUMilli: 500, PerNode: 7, Source: SizedFromOverride}},
		{"per-core no node shape", Namespace{Pattern: PerCore}, Budget{Containers: 1},
			Sizing{CPURequestMilli: 1000, CPULimitMilli: 1000, Workers: 1, PodCPUMilli: 1000, Source: SizedFromPattern}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Size(tt.ns, tt.b); got != tt.want {
				t.Errorf("Size() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMaxPerNode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p          Pattern
		alloc, pod int64
		want       int
	}{
		{PerNode, 4000, 3800, 1},
		{PerNodeSingle, 4000, 100, 1},
		{PerCore, 4000, 1000, 4},
		{PerCore, 4000, 1100, 3},
		{PerCore, 3999, 1000, 3},
		{PerCore, 4000, 0, 4},
		{PerCore, 0, 1000, 0},
		{PerCore, -5, 1000, 0},
	}
	for _, tt := range tests {
		if got := tt.p.MaxPerNode(tt.alloc, tt.pod); got != tt.want {
			t.Errorf("%s.MaxPerNode(%d, %d) = %d, want %d", tt.p, tt.alloc, tt.pod, got, tt.want)
		}
	}
}

func TestWorkersPerCore(t *testing.T) {
	t.Parallel()
	s := Sizing{Workers: 4, NodeCPUMilli: 3500}
	if s.NodeCores() != 4 || s.ConsistentWorkersPerCore() != 1 {
		t.Errorf("3500m node: cores %d, workers per core %v; want 4, 1", s.NodeCores(), s.ConsistentWorkersPerCore())
	}
	if (Sizing{Workers: 1}).NodeCores() != 1 {
		t.Error("unknown node: want 1 core")
	}
}

func TestEstimate(t *testing.T) {
	t.Parallel()
	if got := (Placement{Pattern: PerCore, CPURequestMilli: 500, CPULimitMilli: 1000}).EstimateMilli(); got != 1000 {
		t.Errorf("per-core estimate = %d, want the limit 1000", got)
	}
	if got := (Placement{Pattern: PerNode, CPURequestMilli: 3800, CPULimitMilli: 4000}).EstimateMilli(); got != 3800 {
		t.Errorf("per-node estimate = %d, want the request 3800", got)
	}
}
