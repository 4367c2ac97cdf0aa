package policy

// SizingSource says where a sizing's node CPU came from.
type SizingSource string

const (
	// SizedFromPool: the allocatable CPU of the pool's reference shape.
	SizedFromPool SizingSource = "pool"
	// SizedFromDeclared: the pool has no usable node; the node shape the
	// admin declared for it (webhook config) was used.
	SizedFromDeclared SizingSource = "declared"
	// SizedFromOverride: the namespace's hdscale.io/cpu label.
	SizedFromOverride SizingSource = "override"
	// SizedFromPattern: per-core with no known node shape: the pattern's
	// 1 CPU per runtime container needs none.
	SizedFromPattern SizingSource = "pattern"
	// Unsized: a whole-node pattern with no known node shape. The pod gets
	// placement (toleration, selector, scheduler) but no CPU or worker
	// count; it is sized when it is created again once the pool has a
	// usable node.
	Unsized SizingSource = "unsized"
)

const (
	// CoreMilli is one CPU core.
	CoreMilli int64 = 1000
	// MinRequestMilli is the smallest CPU request a whole-node container
	// gets, even when DaemonSets and sidecars take (nearly) all of a node.
	MinRequestMilli int64 = 100
)

// Budget is what sizing a runtime pod depends on beside the namespace's
// policy: the pool's reference node and the pod's other requests. The pool
// model (internal/pool) computes it.
type Budget struct {
	// NodeCPUMilli is the allocatable CPU of the node the pod is sized for
	// (0: no node shape is known).
	NodeCPUMilli int64
	// ReservedCPUMilli is what DaemonSets request on such a node.
	ReservedCPUMilli int64
	// OtherCPUMilli is what the pod requests beside its runtime containers
	// (sidecars, restartable init containers, init peak, overhead).
	OtherCPUMilli int64
	// Containers is the number of runtime containers sized (at least 1).
	Containers int
	// Source is SizedFromPool or SizedFromDeclared when NodeCPUMilli is known.
	Source SizingSource
}

// Sizing is the CPU and worker count of each runtime container of a pod.
type Sizing struct {
	CPURequestMilli int64
	CPULimitMilli   int64
	// Workers is the value of WEB_CONCURRENCY and MAX_WORKERS (0: unsized).
	Workers int
	// NodeCPUMilli is the node allocatable CPU the sizing assumed (0: none).
	NodeCPUMilli int64
	// PodCPUMilli is the whole pod's CPU request once sized: the runtime
	// containers plus OtherCPUMilli.
	PodCPUMilli int64
	// PerNode is how many such pods fit on one reference node, within the
	// pattern's cap (0 when no node shape is known).
	PerNode int
	Source  SizingSource
}

// Sized reports whether the sizing sets CPU and workers.
func (s Sizing) Sized() bool { return s.Source != Unsized }

// Size computes the sizing of each runtime container for namespace policy ns
// and budget b:
//
//   - per-core: request = limit = 1 CPU (or the hdscale.io/cpu override) per
//     runtime container, 1 worker; PerNode = what fits beside DaemonSets;
//   - per-node, per-node-single: the whole node is the pod's: each of the n
//     runtime containers gets limit = node CPU / n (or override / n) and
//     request = (node CPU − DaemonSets − the pod's other requests) / n, at
//     least MinRequestMilli, at most the limit, so exactly one such pod fits
//     on a reference node; per-node runs floor(limit in cores) ×
//     workers-per-core workers (at least 1), per-node-single 1 worker.
//   - with no node shape known, whole-node patterns are Unsized (unless the
//     override gives the CPU: then request = limit = override / n).
func Size(ns Namespace, b Budget) Sizing {
	n := int64(max(b.Containers, 1))
	s := Sizing{NodeCPUMilli: b.NodeCPUMilli, Source: b.Source}
	if b.NodeCPUMilli <= 0 {
		s.NodeCPUMilli, s.Source = 0, SizedFromPattern
	}
	if ns.Pattern == PerCore {
		s.CPURequestMilli, s.CPULimitMilli, s.Workers = CoreMilli, CoreMilli, 1
		if ns.CPUMilli > 0 {
			s.CPURequestMilli, s.CPULimitMilli, s.Source = ns.CPUMilli, ns.CPUMilli, SizedFromOverride
		}
		s.PodCPUMilli = n*s.CPURequestMilli + b.OtherCPUMilli
		if s.NodeCPUMilli > 0 {
			s.PerNode = ns.Pattern.MaxPerNode(s.NodeCPUMilli-b.ReservedCPUMilli, s.PodCPUMilli)
		}
		return s
	}
	limit := s.NodeCPUMilli
	switch {
	case ns.CPUMilli > 0:
		limit, s.Source = ns.CPUMilli, SizedFromOverride
	case s.NodeCPUMilli <= 0:
		s.Source = Unsized
		return s
	}
	s.CPULimitMilli = max(limit/n, 1)
	if s.NodeCPUMilli > 0 {
		avail := (s.NodeCPUMilli - b.ReservedCPUMilli - b.OtherCPUMilli) / n
		s.CPURequestMilli = min(s.CPULimitMilli, avail)
	} else {
		s.CPURequestMilli = s.CPULimitMilli
	}
	s.CPURequestMilli = max(s.CPURequestMilli, min(MinRequestMilli, s.CPULimitMilli))
	s.Workers = 1
	if ns.Pattern == PerNode {
		wpc := max(ns.WorkersPerCore, 1)
		s.Workers = int(max(s.CPULimitMilli/CoreMilli, 1)) * wpc
	}
	s.PodCPUMilli = n*s.CPURequestMilli + b.OtherCPUMilli
	if s.NodeCPUMilli > 0 && s.PodCPUMilli <= s.NodeCPUMilli-b.ReservedCPUMilli {
		s.PerNode = 1
	}
	return s
}

// NodeCores is what Python's os.cpu_count() sees on the node the sizing
// assumed: whole cores (allocatable CPU rounded up, as capacity is whole
// cores); 1 when unknown.
func (s Sizing) NodeCores() int64 {
	return max((s.NodeCPUMilli+CoreMilli-1)/CoreMilli, 1)
}

// ConsistentWorkersPerCore is the WORKERS_PER_CORE for which the deprecated
// gunicorn formula (WORKERS_PER_CORE × cpu_count()) gives the sizing's workers.
func (s Sizing) ConsistentWorkersPerCore() float64 {
	return float64(s.Workers) / float64(s.NodeCores())
}
