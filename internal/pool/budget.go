package pool

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// BudgetFor is what a runtime pod with the runtime containers at indexes
// runtime is sized from in pool p (nil: no node carries the pool label):
//
//   - the pool's reference shape and what DaemonSets reserve on its members,
//     when the pool has a node that counts for its shape, usable or not: a
//     pool cordoned for maintenance still has its shape
//     (policy.SizedFromPool);
//   - otherwise the node CPU the admin declared for the pool (declaredCPU
//     > 0, policy.SizedFromDeclared): a node group scaled to zero still gets
//     pods that ask for the right size, so an autoscaler scales up for them;
//   - otherwise no node CPU (policy.Size leaves whole-node pods unsized).
//
// The pod's other requests (sidecars, native sidecars, init, overhead)
// always count, so exactly one whole-node pod fits on a member.
func BudgetFor(p *Pool, declaredCPU int64, pod *corev1.Pod, runtime []int) policy.Budget {
	b := policy.Budget{OtherCPUMilli: OtherCPURequestMilli(pod, runtime), Containers: max(len(runtime), 1)}
	switch {
	case p != nil && p.HasRef:
		b.NodeCPUMilli, b.ReservedCPUMilli, b.Source = p.Ref.CPUMilli, p.ReservedCPUMilli, policy.SizedFromPool
	case declaredCPU > 0:
		b.NodeCPUMilli, b.Source = declaredCPU, policy.SizedFromDeclared
	}
	return b
}
