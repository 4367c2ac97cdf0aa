// Package pool is the one model of a node pool that the webhook and the
// scheduler extender share, so the webhook sizes runtime pods for exactly the
// nodes the extender places them on:
//
//   - which nodes are usable members of a pool (node.go: NodeFrom, Usable);
//   - the pool's reference shape, the largest group of equal nodes
//     (shape.go: ReferenceShape) and the members within tolerance of it
//     (pool.go: Summarize, Pool.Member);
//   - the CPU DaemonSets reserve on a member (daemonsets.go);
//   - a pod's effective CPU request, as kube-scheduler counts it
//     (requests.go, through k8s.io/component-helpers);
//   - the budget a runtime pod is sized from (budget.go), which
//     policy.Size turns into per-pattern CPU and workers.
//
// Everything here is pure: facts in, facts out, no client.
package pool
