package policy

import "testing"

func TestSize(t *testing.T) {
	t.Parallel()
	pool4 := PoolShape{Nodes: 3, MinCPUMilli: 4000, MaxCPUMilli: 4000, ReservedCPUMilli: 200}
	tests := []struct {
		name string
		ns   Namespace
		pool PoolShape
		want Sizing
	}{
		{"per-node", Namespace{Pattern: PerNode, WorkersPerCore: 1}, pool4,
			Sizing{CPURequestMilli: 3800, CPULimitMilli: 4000, Workers: 4, NodeCPUMilli: 4000, Source: SizedFromPool}},
		{"per-node 2 workers per core", Namespace{Pattern: PerNode, WorkersPerCore: 2}, pool4,
			Sizing{CPURequestMilli: 3800, CPULimitMilli: 4000, Workers: 8, NodeCPUMilli: 4000, Source: SizedFromPool}},
		{"per-node fractional node", Namespace{Pattern: PerNode, WorkersPerCore: 1}, PoolShape{Nodes: 1, MinCPUMilli: 3500, MaxCPUMilli: 3500},
			Sizing{CPURequestMilli: 3500, CPULimitMilli: 3500, Workers: 3, NodeCPUMilli: 3500, Source: SizedFromPool}},
		{"per-node tiny node", Namespace{Pattern: PerNode, WorkersPerCore: 1}, PoolShape{Nodes: 1, MinCPUMilli: 500, MaxCPUMilli: 500},
			Sizing{CPURequestMilli: 500, CPULimitMilli: 500, Workers: 1, NodeCPUMilli: 500, Source: SizedFromPool}},
		{"per-node daemonsets take everything", Namespace{Pattern: PerNode, WorkersPerCore: 1}, PoolShape{Nodes: 1, MinCPUMilli: 2000, MaxCPUMilli: 2000, ReservedCPUMilli: 2500},
			Sizing{CPURequestMilli: MinRequestMilli, CPULimitMilli: 2000, Workers: 2, NodeCPUMilli: 2000, Source: SizedFromPool}},
		{"per-node-single", Namespace{Pattern: PerNodeSingle, WorkersPerCore: 3}, pool4,
			Sizing{CPURequestMilli: 3800, CPULimitMilli: 4000, Workers: 1, NodeCPUMilli: 4000, Source: SizedFromPool}},
		{"per-node uneven pool sizes for smallest", Namespace{Pattern: PerNode, WorkersPerCore: 1}, PoolShape{Nodes: 2, MinCPUMilli: 2000, MaxCPUMilli: 8000},
			Sizing{CPURequestMilli: 2000, CPULimitMilli: 2000, Workers: 2, NodeCPUMilli: 2000, Source: SizedFromPool}},
		{"per-node override", Namespace{Pattern: PerNode, WorkersPerCore: 1, CPUMilli: 2000}, pool4,
			Sizing{CPURequestMilli: 2000, CPULimitMilli: 2000, Workers: 2, NodeCPUMilli: 4000, Source: SizedFromOverride}},
		{"per-node no nodes", Namespace{Pattern: PerNode, WorkersPerCore: 1}, PoolShape{},
			Sizing{CPURequestMilli: DefaultNodeCPUMilli, CPULimitMilli: DefaultNodeCPUMilli, Workers: 2, NodeCPUMilli: DefaultNodeCPUMilli, Source: SizedFromDefault}},
		{"per-core", Namespace{Pattern: PerCore, WorkersPerCore: 4}, pool4,
			Sizing{CPURequestMilli: 1000, CPULimitMilli: 1000, Workers: 1, NodeCPUMilli: 4000, Source: SizedFromPool}},
		{"per-core override", Namespace{Pattern: PerCore, CPUMilli: 500}, pool4,
			Sizing{CPURequestMilli: 500, CPULimitMilli: 500, Workers: 1, NodeCPUMilli: 4000, Source: SizedFromOverride}},
		{"per-core no nodes", Namespace{Pattern: PerCore}, PoolShape{},
			Sizing{CPURequestMilli: 1000, CPULimitMilli: 1000, Workers: 1, NodeCPUMilli: DefaultNodeCPUMilli, Source: SizedFromDefault}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Size(tt.ns, tt.pool); got != tt.want {
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
		{PerNode, 4000, 4000, 1},
		{PerNodeSingle, 64000, 100, 1},
		{PerCore, 4000, 1000, 4},
		{PerCore, 3900, 1000, 3},
		{PerCore, 4000, 1500, 2},
		{PerCore, 4000, 0, 4},
		{PerCore, 0, 1000, 0},
	}
	for _, tt := range tests {
		if got := tt.p.MaxPerNode(tt.alloc, tt.pod); got != tt.want {
			t.Errorf("%s.MaxPerNode(%d, %d) = %d, want %d", tt.p, tt.alloc, tt.pod, got, tt.want)
		}
	}
}

func TestPoolShapeUneven(t *testing.T) {
	t.Parallel()
	if (PoolShape{Nodes: 1, MinCPUMilli: 1, MaxCPUMilli: 2}).Uneven() {
		t.Error("one node cannot be uneven")
	}
	if !(PoolShape{Nodes: 2, MinCPUMilli: 1000, MaxCPUMilli: 2000}).Uneven() {
		t.Error("different sizes must be uneven")
	}
}
