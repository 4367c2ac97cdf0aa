// Command schedbench measures kube-scheduler throughput on a pool of KWOK
// fake nodes, side by side for several schedulers (e.g. the stock profile and
// the same profile with the hdscale extender), in interleaved rounds.
//
// Each round creates --pods runtime pods (per-core pattern: the hdscale.io/
// policy annotation, the pool's toleration and node selector, CPU request =
// limit = 1) for one scheduler, watches them until all are bound, records
// the throughput, and deletes them. Two modes:
//
//   - e2e: pods are created while the scheduler runs; throughput is pods per
//     second from the first create request to the last pod seen bound.
//   - burst: the scheduler process is paused (SIGSTOP) while the pods are
//     created and resumed (SIGCONT) after; throughput is pods per second from
//     the resume to the last pod seen bound, i.e. the scheduler alone.
//
// With a metrics URL per scheduler it also reads the scheduler's
// scheduling_algorithm_duration_seconds histogram before and after each
// round: the per-pod time of filtering and scoring, which includes the
// extender's filter and prioritize calls (binding is not included).
//
// Usage (see e2e/tools/bench-extender.sh):
//
//	schedbench -kubeconfig KC -nodes 1000 -pods 1000 -rounds 3 -mode e2e \
//	  -variant name=default,scheduler=bench-default,metrics=https://127.0.0.1:20259/metrics,pid=123 \
//	  -variant name=hdscale,scheduler=bench-hdscale,metrics=https://127.0.0.1:20261/metrics,pid=456
package main

import "github.com/hdscale/hdscale/e2e/bench/internal/benchkit"

func main() { benchkit.Main("schedbench", parseFlags, run) }
