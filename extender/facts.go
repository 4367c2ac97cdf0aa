package extender

import (
	"time"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// groupKey identifies the runtime replicas a cap counts: one namespace's
// replicas in one pool.
type groupKey struct {
	Namespace string
	Pool      string
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
		RequestMilli: pool.PodCPURequestMilli(p),
		Running:      p.Status.Phase == v1.PodRunning,
	}
	if v, ok := p.Annotations[policy.AnnotationPolicy]; ok {
		if _, pl, err := policy.ParseAnnotation(v); err == nil {
			f.Runtime = true
			f.Group = groupKey{Namespace: p.Namespace, Pool: pl.Pool}
			f.EstimateMilli = clampMilli(pl.EstimateMilli())
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

func clampMilli(m int64) int64 { return pool.ClampMilli(m) }
