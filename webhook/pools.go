package webhook

import (
	"strconv"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// ComputePoolShapes derives every pool's shape from the nodes and DaemonSets:
//
//   - a pool's nodes are the nodes labelled hdscale.io/pool=<pool> that are
//     Ready, schedulable (not cordoned), not being deleted and have
//     allocatable CPU;
//   - MinCPUMilli/MaxCPUMilli are their smallest and largest allocatable CPU;
//   - ReservedCPUMilli is, over the pool's nodes, the largest sum of CPU
//     requests of the DaemonSets that would run on the node (node selector
//     and required node affinity match its labels, tolerations cover its
//     NoSchedule/NoExecute taints, including the pool taint). A whole-node
//     runtime pod sized with it fits beside the DaemonSets on every node.
//
// Pools without usable nodes are absent (their shape is the zero PoolShape).
func ComputePoolShapes(nodes []*corev1.Node, daemonSets []*appsv1.DaemonSet) map[string]policy.PoolShape {
	type dsInfo struct {
		ds  *appsv1.DaemonSet
		cpu int64
	}
	infos := make([]dsInfo, 0, len(daemonSets))
	for _, ds := range daemonSets {
		if cpu := podSpecCPURequestMilli(&ds.Spec.Template.Spec); cpu > 0 {
			infos = append(infos, dsInfo{ds: ds, cpu: cpu})
		}
	}
	shapes := map[string]policy.PoolShape{}
	for _, n := range nodes {
		pool, ok := n.Labels[policy.NodePoolKey]
		if !ok || pool == "" || !nodeUsable(n) {
			continue
		}
		q := n.Status.Allocatable[corev1.ResourceCPU]
		alloc := q.MilliValue()
		if alloc <= 0 {
			continue
		}
		var reserved int64
		for _, d := range infos {
			if daemonSetRunsOn(&d.ds.Spec.Template.Spec, n) {
				reserved += d.cpu
			}
		}
		s := shapes[pool]
		if s.Nodes == 0 || alloc < s.MinCPUMilli {
			s.MinCPUMilli = alloc
		}
		s.MaxCPUMilli = max(s.MaxCPUMilli, alloc)
		s.ReservedCPUMilli = max(s.ReservedCPUMilli, reserved)
		s.Nodes++
		shapes[pool] = s
	}
	return shapes
}

// nodeUsable: Ready, not cordoned, not being deleted.
func nodeUsable(n *corev1.Node) bool {
	if n.Spec.Unschedulable || n.DeletionTimestamp != nil {
		return false
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// daemonSetTolerations are the tolerations the DaemonSet controller adds to
// every DaemonSet pod (network-unavailable only for host-network pods).
var daemonSetTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

var hostNetworkToleration = corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}

// daemonSetRunsOn reports whether a DaemonSet pod with spec would run on n.
func daemonSetRunsOn(spec *corev1.PodSpec, n *corev1.Node) bool {
	for k, v := range spec.NodeSelector {
		if got, ok := n.Labels[k]; !ok || got != v {
			return false
		}
	}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		if !nodeSelectorMatches(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution, n) {
			return false
		}
	}
	for i := range n.Spec.Taints {
		t := &n.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerated(spec.Tolerations, t) && !tolerated(daemonSetTolerations, t) &&
			!(spec.HostNetwork && hostNetworkToleration.ToleratesTaint(logr.Discard(), t, false)) {
			return false
		}
	}
	return true
}

func tolerated(ts []corev1.Toleration, t *corev1.Taint) bool {
	for i := range ts {
		if ts[i].ToleratesTaint(logr.Discard(), t, false) {
			return true
		}
	}
	return false
}

// nodeSelectorMatches: the terms are ORed; a term's requirements are ANDed;
// a term without requirements matches nothing.
func nodeSelectorMatches(sel *corev1.NodeSelector, n *corev1.Node) bool {
	for _, term := range sel.NodeSelectorTerms {
		if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
			continue
		}
		ok := true
		for _, r := range term.MatchExpressions {
			if !requirementMatches(r, n.Labels) {
				ok = false
				break
			}
		}
		for _, r := range term.MatchFields {
			if !ok {
				break
			}
			ok = r.Key == "metadata.name" && requirementMatches(r, map[string]string{"metadata.name": n.Name})
		}
		if ok {
			return true
		}
	}
	return false
}

func requirementMatches(r corev1.NodeSelectorRequirement, labels map[string]string) bool {
	v, has := labels[r.Key]
	in := func() bool {
		for _, w := range r.Values {
			if v == w {
				return true
			}
		}
		return false
	}
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		return has && in()
	case corev1.NodeSelectorOpNotIn:
		return !has || !in()
	case corev1.NodeSelectorOpExists:
		return has
	case corev1.NodeSelectorOpDoesNotExist:
		return !has
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if !has || len(r.Values) != 1 {
			return false
		}
		got, err1 := strconv.ParseInt(v, 10, 64)
		want, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Operator == corev1.NodeSelectorOpGt {
			return got > want
		}
		return got < want
	}
	return false
}

// containerCPUMilli is a container's CPU request, or its limit when it sets
// no request (the API server defaults the request to the limit).
func containerCPUMilli(c *corev1.Container) int64 {
	if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		return q.MilliValue()
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		return q.MilliValue()
	}
	return 0
}

// podSpecCPURequestMilli is the CPU a pod with spec requests from its node,
// as the scheduler counts it: pod-level resources when set, else the larger of
// the containers plus sidecars (restartable init containers) and the peak of
// the init phase; plus the pod overhead.
func podSpecCPURequestMilli(spec *corev1.PodSpec) int64 {
	var overhead int64
	if q, ok := spec.Overhead[corev1.ResourceCPU]; ok {
		overhead = q.MilliValue()
	}
	if spec.Resources != nil {
		if q, ok := spec.Resources.Requests[corev1.ResourceCPU]; ok {
			return q.MilliValue() + overhead
		}
	}
	var regular, sidecars, initPeak int64
	for i := range spec.Containers {
		regular += containerCPUMilli(&spec.Containers[i])
	}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		r := containerCPUMilli(c)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars += r
			initPeak = max(initPeak, sidecars)
			continue
		}
		initPeak = max(initPeak, sidecars+r)
	}
	return max(regular+sidecars, initPeak) + overhead
}
