// Command makespan measures the batch makespan of hdscale's placement against
// the default scheduler's on real, CPU-limited kind nodes (issue #13).
//
// bench-makespan.sh prepares the kind cluster: each pool node container gets
// a CPU quota (docker update --cpus) and the kubelet reports the same as
// allocatable CPU, and dutyburn is copied into the node containers. Each
// round then starts dutyburn (-background cores) in one pool node's
// container (the loaded node rotates over the pool), waits until
// metrics.k8s.io shows it, and for each variant (order alternating per
// round) creates the runtime Deployment in the variant's namespace — both
// namespaces have the same hdscale labels, so the webhook sizes the pods and
// sets the pool's toleration and selector alike; they differ in
// hdscale.io/scheduler only (default-scheduler vs hdscale-scheduler with the
// extender) — waits until all replicas are ready, measures every node's CPU
// with the replicas idle, runs execload in a client pod (a batch of
// -executions × -exec-cpu CPU-seconds on the fake runtime through the
// runtime Service, over -connections kept-alive connections) and deletes
// everything again.
//
// Measured: batch makespan, each execution's time (p50, p99), executions per
// node, node CPU during the batch (node containers' cgroups). Beside it, the
// processor-sharing model of bench-placement (e2e/bench/internal/pssim)
// applied to the same placement and the measured background loads.
package main

import "github.com/hdscale/hdscale/e2e/bench/internal/benchkit"

func main() { benchkit.Main("makespan", parseFlags, run) }
