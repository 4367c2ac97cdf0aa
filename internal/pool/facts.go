package pool

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Facts computes every pool's facts from the nodes and DaemonSets (the
// webhook's view): Summarize, plus each pool's ReservedCPUMilli, the largest
// CPU that DaemonSets request on one member, so a whole-node replica sized
// with it fits beside them on every member.
func Facts(nodes []*corev1.Node, daemonSets []*appsv1.DaemonSet, tol float64) map[string]*Pool {
	facts := make([]Node, len(nodes))
	for i, n := range nodes {
		facts[i] = NodeFrom(n)
	}
	pools := Summarize(facts, tol)
	var dss []DaemonSet
	for _, ds := range daemonSets {
		if d := DaemonSetFrom(ds); d.CPUMilli > 0 {
			dss = append(dss, d)
		}
	}
	if len(dss) == 0 {
		return pools
	}
	for i, n := range nodes {
		p := pools[facts[i].Pool]
		if p == nil || !p.Member(facts[i]) {
			continue
		}
		p.ReservedCPUMilli = max(p.ReservedCPUMilli, ReservedCPUMilli(dss, n))
	}
	return pools
}
