package pool

import (
	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	v1helper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

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

// DaemonSet is what the pool model keeps of a DaemonSet: its pod template's
// placement and CPU request.
type DaemonSet struct {
	affinity    nodeaffinity.RequiredNodeAffinity
	tolerations []corev1.Toleration
	CPUMilli    int64
}

// DaemonSetFrom extracts the facts of ds.
func DaemonSetFrom(ds *appsv1.DaemonSet) DaemonSet {
	spec := &ds.Spec.Template.Spec
	tol := make([]corev1.Toleration, 0, len(spec.Tolerations)+len(daemonSetTolerations)+1)
	tol = append(tol, spec.Tolerations...)
	tol = append(tol, daemonSetTolerations...)
	if spec.HostNetwork {
		tol = append(tol, hostNetworkToleration)
	}
	return DaemonSet{
		affinity:    nodeaffinity.GetRequiredNodeAffinity(&corev1.Pod{Spec: *spec}),
		tolerations: tol,
		CPUMilli:    SpecCPURequestMilli(spec),
	}
}

// RunsOn reports whether a pod of the DaemonSet would run on n: its node
// selector and required node affinity match n, and its tolerations (plus the
// ones the DaemonSet controller adds) cover n's NoSchedule and NoExecute
// taints. An affinity that does not parse matches nothing.
func (d *DaemonSet) RunsOn(n *corev1.Node) bool {
	if ok, err := d.affinity.Match(n); err != nil || !ok {
		return false
	}
	_, untolerated := v1helper.FindMatchingUntoleratedTaint(logr.Discard(), n.Spec.Taints, d.tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	}, false)
	return !untolerated
}

// ReservedCPUMilli is the CPU the DaemonSets request on n.
func ReservedCPUMilli(dss []DaemonSet, n *corev1.Node) int64 {
	var sum int64
	for i := range dss {
		if dss[i].CPUMilli > 0 && dss[i].RunsOn(n) {
			sum += dss[i].CPUMilli
		}
	}
	return ClampMilli(sum)
}
