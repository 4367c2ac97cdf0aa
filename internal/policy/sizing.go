package policy

// PoolShape is what is known about a pool's schedulable nodes.
type PoolShape struct {
	// Nodes is the number of schedulable nodes in the pool.
	Nodes int
	// MinCPUMilli and MaxCPUMilli are the smallest and largest allocatable CPU.
	MinCPUMilli int64
	MaxCPUMilli int64
	// ReservedCPUMilli is the CPU that DaemonSet pods request on each pool
	// node; a whole-node runtime pod must fit beside it.
	ReservedCPUMilli int64
}

// Uneven reports whether the pool's nodes differ in allocatable CPU.
func (p PoolShape) Uneven() bool { return p.Nodes > 1 && p.MinCPUMilli != p.MaxCPUMilli }

// SizingSource says where a sizing's node CPU came from.
type SizingSource string

const (
	// SizedFromPool: the smallest allocatable CPU among the pool's nodes.
	SizedFromPool SizingSource = "pool"
	// SizedFromOverride: the namespace's hdscale.io/cpu label.
	SizedFromOverride SizingSource = "override"
	// SizedFromDefault: the pool has no nodes yet; DefaultNodeCPUMilli is assumed.
	SizedFromDefault SizingSource = "default"
)

const (
	// DefaultNodeCPUMilli is the node size assumed while a pool has no nodes.
	DefaultNodeCPUMilli int64 = 2000
	// CoreMilli is one CPU core.
	CoreMilli int64 = 1000
	// MinRequestMilli is the smallest CPU request a whole-node pod gets, even
	// when DaemonSets reserve (nearly) all of a node.
	MinRequestMilli int64 = 100
)

// Sizing is the CPU and worker count of one runtime container.
type Sizing struct {
	CPURequestMilli int64
	CPULimitMilli   int64
	// Workers is the value of WEB_CONCURRENCY and MAX_WORKERS.
	Workers int
	// NodeCPUMilli is the node allocatable CPU the sizing assumed.
	NodeCPUMilli int64
	Source       SizingSource
}

// Size computes the sizing of a runtime container for namespace policy ns in
// a pool of shape pool:
//
//   - per-core: request = limit = 1 CPU (or the hdscale.io/cpu override), 1 worker;
//   - per-node, per-node-single: limit = the node's allocatable CPU (the
//     smallest in the pool, or the override), request = limit minus what
//     DaemonSets reserve on the node (at least MinRequestMilli), so one pod
//     fits beside them; per-node runs floor(limit in cores) × workers-per-core
//     workers (at least 1), per-node-single 1 worker.
func Size(ns Namespace, pool PoolShape) Sizing {
	s := Sizing{NodeCPUMilli: pool.MinCPUMilli, Source: SizedFromPool}
	if pool.Nodes == 0 || pool.MinCPUMilli <= 0 {
		s.NodeCPUMilli, s.Source = DefaultNodeCPUMilli, SizedFromDefault
	}
	if ns.Pattern == PerCore {
		s.CPURequestMilli, s.CPULimitMilli, s.Workers = CoreMilli, CoreMilli, 1
		if ns.CPUMilli > 0 {
			s.CPURequestMilli, s.CPULimitMilli, s.Source = ns.CPUMilli, ns.CPUMilli, SizedFromOverride
		}
		return s
	}
	s.CPULimitMilli = s.NodeCPUMilli
	if ns.CPUMilli > 0 {
		s.CPULimitMilli, s.Source = ns.CPUMilli, SizedFromOverride
	}
	s.CPURequestMilli = min(s.CPULimitMilli, s.NodeCPUMilli-pool.ReservedCPUMilli)
	s.CPURequestMilli = max(s.CPURequestMilli, min(MinRequestMilli, s.CPULimitMilli))
	s.Workers = 1
	if ns.Pattern == PerNode {
		wpc := max(ns.WorkersPerCore, 1)
		s.Workers = int(max(s.CPULimitMilli/CoreMilli, 1)) * wpc
	}
	return s
}
