// Package pssim is the processor-sharing model the placement benchmark uses
// to turn real placements into a batch makespan, deterministically.
//
// Model. Each node has Cores CPUs, Background of which are taken by load that
// is not the runtime (it keeps them: the runtime gets what is left,
// max(Cores-Background, 0)). The runtime replicas on a node share those
// remaining cores equally among their busy workers, and a worker never runs
// faster than WorkerCores (one core for a single-threaded Python worker).
// Executions of CPUSeconds each are handed to the replicas round-robin, as a
// Service spreads requests; a replica runs at most Workers executions at a
// time and queues the rest in order. The makespan is when the last execution
// finishes; all executions are submitted at time 0.
package pssim

import (
	"fmt"
	"math"
)

// Node is one pool node.
type Node struct {
	Cores      float64
	Background float64
}

// Available is the CPU the runtime replicas on the node share.
func (n Node) Available() float64 { return math.Max(n.Cores-n.Background, 0) }

// Replica is one runtime pod placed on Nodes[Node].
type Replica struct {
	Node    int
	Workers int
}

// Batch is the work: Executions executions of CPUSeconds each.
type Batch struct {
	Executions int
	CPUSeconds float64
	// WorkerCores caps one worker's speed (cores); 0 means 1.
	WorkerCores float64
}

// Result is the outcome of one simulated batch.
type Result struct {
	// Makespan is when the last execution finished (seconds); +Inf when some
	// replica sits on a node with no CPU left for it.
	Makespan float64
	// ReplicaFinish is when each replica finished its last execution.
	ReplicaFinish []float64
}

// Validate reports the first inconsistency of a simulation's input.
func Validate(nodes []Node, replicas []Replica, b Batch) error {
	switch {
	case len(replicas) == 0:
		return fmt.Errorf("no replicas")
	case b.Executions < 0:
		return fmt.Errorf("executions %d must not be negative", b.Executions)
	case b.CPUSeconds <= 0:
		return fmt.Errorf("cpu seconds %v must be positive", b.CPUSeconds)
	case b.WorkerCores < 0:
		return fmt.Errorf("worker cores %v must not be negative", b.WorkerCores)
	}
	for i, n := range nodes {
		if n.Cores <= 0 || n.Background < 0 {
			return fmt.Errorf("node %d: cores %v must be positive and background %v not negative", i, n.Cores, n.Background)
		}
	}
	for i, r := range replicas {
		if r.Node < 0 || r.Node >= len(nodes) {
			return fmt.Errorf("replica %d: node %d out of range", i, r.Node)
		}
		if r.Workers < 1 {
			return fmt.Errorf("replica %d: workers %d must be at least 1", i, r.Workers)
		}
	}
	return nil
}

type running struct {
	replica int
	left    float64 // CPU seconds still to do
}

// Simulate runs the batch on the placement and returns its makespan.
func Simulate(nodes []Node, replicas []Replica, b Batch) (Result, error) {
	if err := Validate(nodes, replicas, b); err != nil {
		return Result{}, err
	}
	capCores := b.WorkerCores
	if capCores == 0 {
		capCores = 1
	}
	queued := make([]int, len(replicas)) // executions not started, per replica
	for i := 0; i < b.Executions; i++ {
		queued[i%len(replicas)]++
	}
	res := Result{ReplicaFinish: make([]float64, len(replicas))}
	busy := make([]int, len(replicas))
	var run []running
	start := func() {
		for r := range replicas {
			for busy[r] < replicas[r].Workers && queued[r] > 0 {
				queued[r]--
				busy[r]++
				run = append(run, running{replica: r, left: b.CPUSeconds})
			}
		}
	}
	now := 0.0
	start()
	for len(run) > 0 {
		perNode := make([]int, len(nodes))
		for _, x := range run {
			perNode[replicas[x.replica].Node]++
		}
		rate := func(x running) float64 {
			n := replicas[x.replica].Node
			return math.Min(capCores, nodes[n].Available()/float64(perNode[n]))
		}
		dt := math.Inf(1)
		for _, x := range run {
			if r := rate(x); r > 0 {
				dt = math.Min(dt, x.left/r)
			}
		}
		if math.IsInf(dt, 1) { // only starved workers remain
			res.Makespan = math.Inf(1)
			for _, x := range run {
				res.ReplicaFinish[x.replica] = math.Inf(1)
			}
			return res, nil
		}
		now += dt
		kept := run[:0]
		for _, x := range run {
			x.left -= rate(x) * dt
			if x.left <= 1e-9*b.CPUSeconds {
				busy[x.replica]--
				res.ReplicaFinish[x.replica] = now
				continue
			}
			kept = append(kept, x)
		}
		run = kept
		start()
	}
	res.Makespan = now
	return res, nil
}

// Demand is each node's CPU demand while the batch runs: its background
// plus, per replica on it, its workers times WorkerCores (what the runtime
// would use if it had the node to itself).
func Demand(nodes []Node, replicas []Replica, b Batch) []float64 {
	capCores := b.WorkerCores
	if capCores == 0 {
		capCores = 1
	}
	d := make([]float64, len(nodes))
	for i, n := range nodes {
		d[i] = n.Background
	}
	for _, r := range replicas {
		if r.Node >= 0 && r.Node < len(nodes) {
			d[r.Node] += float64(r.Workers) * capCores
		}
	}
	return d
}

// Imbalance is max/mean of the demand (1 = perfectly even); NaN when the
// total demand is zero.
func Imbalance(demand []float64) float64 {
	if len(demand) == 0 {
		return math.NaN()
	}
	sum, hi := 0.0, math.Inf(-1)
	for _, d := range demand {
		sum += d
		hi = math.Max(hi, d)
	}
	if sum == 0 {
		return math.NaN()
	}
	return hi / (sum / float64(len(demand)))
}

// maxBestPlacements bounds the search of Best.
const maxBestPlacements = 2_000_000

// Best is the smallest makespan any placement of the given number of
// replicas (workers each, at most maxPerNode per node) achieves in the model,
// found by trying every per-node count vector, and one placement achieving
// it. ok is false when there is no valid placement or more than
// maxBestPlacements of them.
func Best(nodes []Node, replicas, workers, maxPerNode int, b Batch) (makespan float64, perNode []int, ok bool) {
	if replicas < 1 || workers < 1 || maxPerNode < 1 || len(nodes) == 0 {
		return 0, nil, false
	}
	makespan = math.Inf(1)
	counts := make([]int, len(nodes))
	tried := 0
	var walk func(i, left int) bool
	walk = func(i, left int) bool {
		if i == len(nodes)-1 {
			if left > maxPerNode {
				return true
			}
			counts[i] = left
			if tried++; tried > maxBestPlacements {
				return false
			}
			var reps []Replica
			for n, k := range counts {
				for j := 0; j < k; j++ {
					reps = append(reps, Replica{Node: n, Workers: workers})
				}
			}
			if res, err := Simulate(nodes, reps, b); err == nil && res.Makespan < makespan {
				makespan, perNode = res.Makespan, append([]int(nil), counts...)
			}
			return true
		}
		for k := 0; k <= min(maxPerNode, left); k++ {
			counts[i] = k
			if !walk(i+1, left-k) {
				return false
			}
		}
		return true
	}
	if !walk(0, replicas) || perNode == nil {
		return 0, nil, false
	}
	return makespan, perNode, true
}
