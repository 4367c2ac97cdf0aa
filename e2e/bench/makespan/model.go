package main

import (
	"math"

	"github.com/hdscale/hdscale/e2e/bench/internal/pssim"
)

// modelMakespan applies bench-placement's processor-sharing model
// (e2e/bench/internal/pssim) to a real placement and the measured loads:
// each pool node has quota cores of which background[i] (measured with the
// runtime idle) are taken; the replicas on it share the rest, a worker never
// faster than workerCores (its pod's CPU limit, at most one core); the batch
// is handed to the replicas round-robin, all submitted at once. +Inf (a
// replica on a node with nothing left) is returned as -1.
func modelMakespan(quota float64, background []float64, perNode []int, workers int, workerCores float64, executions int, cpuSeconds float64) float64 {
	nodes := make([]pssim.Node, len(background))
	for i, b := range background {
		nodes[i] = pssim.Node{Cores: quota, Background: math.Max(b, 0)}
	}
	var reps []pssim.Replica
	for n, k := range perNode {
		for j := 0; j < k; j++ {
			reps = append(reps, pssim.Replica{Node: n, Workers: workers})
		}
	}
	res, err := pssim.Simulate(nodes, reps, pssim.Batch{Executions: executions, CPUSeconds: cpuSeconds, WorkerCores: workerCores})
	if err != nil {
		return -1
	}
	return finite(res.Makespan)
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return -1
	}
	return v
}
