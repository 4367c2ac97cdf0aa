// Command placement measures hdscale's placement quality against the default
// scheduler on a small KWOK pool with skewed emulated background load.
//
// Each round creates --nodes equal fake nodes whose background CPU (node
// annotation → kwok → metrics-server → NodeMetrics) is a seeded permutation
// of --loads, waits until NodeMetrics reports it, then, for each variant (the
// stock scheduler's default profile, and hdscale's scheduler with the
// extender), creates a Deployment of --replicas runtime pods, records where
// they were bound, and deletes it. From the real placements it computes the
// node CPU imbalance (max/mean of background + runtime demand) and the
// makespan of a batch of --executions executions of --exec-cpu CPU-seconds,
// handed round-robin to the replicas, in the processor-sharing model of
// e2e/bench/internal/pssim. Rounds alternate the variants' order; the
// report gives per-round figures and medians.
package main

import "github.com/hdscale/hdscale/e2e/bench/internal/benchkit"

func main() { benchkit.Main("placement", parseFlags, run) }
