package pool

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// maxMilli bounds every CPU amount taken from an object (1e9 cores), so sums
// over millions of pods cannot overflow int64.
const maxMilli = int64(1e12)

// ClampMilli bounds a CPU amount to [0, 1e9 cores].
func ClampMilli(m int64) int64 { return min(max(m, 0), maxMilli) }

// Node is what hdscale knows of one node.
type Node struct {
	Name string
	// Pool is the value of the node's hdscale.io/pool label ("" when none).
	Pool  string
	Shape Shape
	// Unusable says why runtime replicas cannot be placed on the node now
	// ("" when they can): see NodeFrom.
	Unusable string
}

// Why a node is not usable.
const (
	UnusableDeleting = "being deleted"
	UnusableCordoned = "cordoned"
	UnusableNotReady = "not Ready"
	UnusableTainted  = "tainted not-ready, unreachable or unschedulable"
	UnusableNoCPU    = "no allocatable CPU"
)

// usableTaints are the node-lifecycle taints that make a node unusable when
// their effect is NoSchedule or NoExecute.
var usableTaints = map[string]bool{
	corev1.TaintNodeNotReady:      true,
	corev1.TaintNodeUnreachable:   true,
	corev1.TaintNodeUnschedulable: true,
}

// NodeFrom extracts the facts of n. A node is usable when it is not being
// deleted, not cordoned, Ready, carries none of the not-ready, unreachable or
// unschedulable taints (NoSchedule or NoExecute) and has allocatable CPU.
// Both halves of hdscale use this one rule: the webhook sizes only for usable
// nodes and the extender places only on them.
func NodeFrom(n *corev1.Node) Node {
	f := Node{Name: n.Name, Pool: n.Labels[policy.NodePoolKey]}
	if q, ok := n.Status.Allocatable[corev1.ResourceCPU]; ok {
		f.Shape.CPUMilli = ClampMilli(q.MilliValue())
	}
	if q, ok := n.Status.Allocatable[corev1.ResourceMemory]; ok {
		f.Shape.MemBytes = max(q.Value(), 0)
	}
	f.Unusable = unusable(n, f.Shape)
	return f
}

func unusable(n *corev1.Node, s Shape) string {
	if n.DeletionTimestamp != nil {
		return UnusableDeleting
	}
	if n.Spec.Unschedulable {
		return UnusableCordoned
	}
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
			break
		}
	}
	if !ready {
		return UnusableNotReady
	}
	for _, t := range n.Spec.Taints {
		if usableTaints[t.Key] && (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) {
			return UnusableTainted
		}
	}
	if s.CPUMilli <= 0 {
		return UnusableNoCPU
	}
	return ""
}

// Usable reports whether runtime replicas can be placed on the node now.
func (n Node) Usable() bool { return n.Unusable == "" }
