package extender

import (
	"time"

	"github.com/hdscale/hdscale/internal/policy"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// maxMilli bounds every CPU amount taken from an object (1e9 cores), so sums
// over millions of pods cannot overflow int64.
const maxMilli = int64(1e12)

// groupKey identifies the runtime replicas a cap counts: one namespace's
// replicas in one pool.
type groupKey struct {
	Namespace string
	Pool      string
}

// nodeStatic is what the extender keeps of a Node.
type nodeStatic struct {
	Name string
	// Pool is the value of the node's hdscale.io/pool label ("" when none).
	Pool string
	// Schedulable is false for cordoned or not-ready nodes; only schedulable
	// nodes define a pool's reference shape.
	Schedulable bool
	Shape       Shape
}

// nodeStaticFrom extracts the facts of n.
func nodeStaticFrom(n *v1.Node) nodeStatic {
	f := nodeStatic{Name: n.Name, Pool: n.Labels[policy.NodePoolKey], Schedulable: !n.Spec.Unschedulable}
	if q, ok := n.Status.Allocatable[v1.ResourceCPU]; ok {
		f.Shape.CPUMilli = clampMilli(q.MilliValue())
	}
	if q, ok := n.Status.Allocatable[v1.ResourceMemory]; ok {
		f.Shape.MemBytes = max(q.Value(), 0)
	}
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady && c.Status != v1.ConditionTrue {
			f.Schedulable = false
		}
	}
	for _, t := range n.Spec.Taints {
		switch t.Key {
		case v1.TaintNodeUnschedulable, v1.TaintNodeNotReady, v1.TaintNodeUnreachable:
			if t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute {
				f.Schedulable = false
			}
		}
	}
	return f
}

// podFacts is what the extender keeps of a Pod.
type podFacts struct {
	UID             types.UID
	Namespace, Name string
	ResourceVersion string
	// Node is spec.nodeName ("" while unbound).
	Node string
	// Terminal pods (Succeeded, Failed) hold no resources.
	Terminal bool
	// RequestMilli is the pod's effective CPU request (as kube-scheduler
	// counts it), used by the requests-based fallback.
	RequestMilli int64
	// Runtime is true for pods with a valid hdscale.io/policy annotation.
	Runtime bool
	Group   groupKey
	// EstimateMilli is the CPU a runtime pod is expected to use (see
	// estimateMilli).
	EstimateMilli int64
	// ScheduledAt is the PodScheduled=True transition time (zero if unknown).
	ScheduledAt time.Time
	// Running is true once the pod's phase is Running; RunningSince is the
	// start time of its most recently started running container.
	Running      bool
	RunningSince time.Time
	// Unschedulable: unbound with PodScheduled=False, reason Unschedulable.
	Unschedulable bool
}

// podFactsFrom extracts the facts of p.
func podFactsFrom(p *v1.Pod) podFacts {
	f := podFacts{
		UID: p.UID, Namespace: p.Namespace, Name: p.Name, ResourceVersion: p.ResourceVersion,
		Node:         p.Spec.NodeName,
		Terminal:     p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed,
		RequestMilli: podRequestMilli(&p.Spec),
		Running:      p.Status.Phase == v1.PodRunning,
	}
	if v, ok := p.Annotations[policy.AnnotationPolicy]; ok {
		if _, pl, err := policy.ParseAnnotation(v); err == nil {
			f.Runtime = true
			f.Group = groupKey{Namespace: p.Namespace, Pool: pl.Pool}
			f.EstimateMilli = estimateMilli(pl)
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type != v1.PodScheduled {
			continue
		}
		if c.Status == v1.ConditionTrue {
			f.ScheduledAt = c.LastTransitionTime.Time
		} else if c.Status == v1.ConditionFalse && c.Reason == v1.PodReasonUnschedulable && f.Node == "" {
			f.Unschedulable = true
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if r := cs.State.Running; r != nil && r.StartedAt.After(f.RunningSince) {
			f.RunningSince = r.StartedAt.Time
		}
	}
	return f
}

// estimateMilli is the CPU a just-placed runtime replica is expected to use
// until a metrics sample includes it: its CPU limit for per-core (each replica
// burns its core when it executes) and its CPU request for the per-node
// patterns (the replica takes the node; its request is the node minus what
// DaemonSets reserve).
func estimateMilli(pl policy.Placement) int64 {
	if pl.Pattern.WholeNode() {
		return clampMilli(pl.CPURequestMilli)
	}
	return clampMilli(pl.CPULimitMilli)
}

// podRequestMilli is the effective CPU request of a pod as kube-scheduler
// computes it: the larger of (containers + restartable init containers) and
// the peak of the init sequence, plus overhead.
func podRequestMilli(s *v1.PodSpec) int64 {
	var containers, sidecars, initPeak int64
	for i := range s.Containers {
		containers += cpuMilli(s.Containers[i].Resources.Requests)
	}
	for i := range s.InitContainers {
		c := &s.InitContainers[i]
		r := cpuMilli(c.Resources.Requests)
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			sidecars += r
			initPeak = max(initPeak, sidecars)
			continue
		}
		initPeak = max(initPeak, sidecars+r)
	}
	total := max(containers+sidecars, initPeak) + cpuMilli(s.Overhead)
	return clampMilli(total)
}

func cpuMilli(rl v1.ResourceList) int64 {
	if q, ok := rl[v1.ResourceCPU]; ok {
		return clampMilli(q.MilliValue())
	}
	return 0
}

func clampMilli(m int64) int64 { return min(max(m, 0), maxMilli) }
