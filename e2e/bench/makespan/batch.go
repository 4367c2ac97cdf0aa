package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hdscale/hdscale/e2e/bench/internal/stats"
)

// clientLine is one line of execload's output: an execution record, or the
// summary (Summary true).
type clientLine struct {
	Summary    bool     `json:"summary"`
	MakespanMs float64  `json:"makespanMs"`
	Failed     int      `json:"failed"`
	ConnPods   []string `json:"connPods"`
	Conn       int      `json:"conn"`
	StartMs    float64  `json:"startMs"`
	EndMs      float64  `json:"endMs"`
	Pod        string   `json:"pod"`
	Node       string   `json:"node"`
	QueuedMs   float64  `json:"queuedMs"`
	Err        string   `json:"err"`
}

// batchResult is what one batch measured.
type batchResult struct {
	Makespan float64 `json:"makespanSeconds"`
	// P50 and P99 of an execution's time as the client saw it (request to
	// response: queueing in the runtime pod plus running).
	P50 float64 `json:"p50Seconds"`
	P99 float64 `json:"p99Seconds"`
	// QueueP50 is the median time executions waited for a worker.
	QueueP50 float64 `json:"queueP50Seconds"`
	Done     int     `json:"done"`
	Failed   int     `json:"failed"`
	// ExecsPerNode counts the executions each pool node ran (node order of
	// the round); ConnsPerNode the connections kube-proxy sent to each.
	ExecsPerNode []int `json:"executionsPerNode"`
	ConnsPerNode []int `json:"connectionsPerNode"`
}

// parseBatch reads execload's output. podNode maps the runtime pods to
// their nodes (connections report pods only), nodes is the round's node
// order. Lines that are not JSON (nothing else writes to stdout) are an error.
func parseBatch(out string, podNode map[string]string, nodes []string) (batchResult, error) {
	var r batchResult
	idx := map[string]int{}
	for i, n := range nodes {
		idx[n] = i
	}
	r.ExecsPerNode = make([]int, len(nodes))
	r.ConnsPerNode = make([]int, len(nodes))
	var lat, queue []float64
	summary := false
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var l clientLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			return r, fmt.Errorf("client output line %q: %w", line, err)
		}
		if l.Summary {
			summary = true
			r.Makespan = l.MakespanMs / 1000
			for _, p := range l.ConnPods {
				if i, ok := idx[podNode[p]]; ok {
					r.ConnsPerNode[i]++
				}
			}
			continue
		}
		if l.Err != "" {
			r.Failed++
			continue
		}
		r.Done++
		lat = append(lat, (l.EndMs-l.StartMs)/1000)
		queue = append(queue, l.QueuedMs/1000)
		node := l.Node
		if node == "" {
			node = podNode[l.Pod]
		}
		if i, ok := idx[node]; ok {
			r.ExecsPerNode[i]++
		}
	}
	if err := sc.Err(); err != nil {
		return r, fmt.Errorf("reading client output: %w", err)
	}
	if !summary {
		return r, fmt.Errorf("client output has no summary line (%d executions recorded)", r.Done+r.Failed)
	}
	r.P50 = finite(stats.Quantile(lat, 0.5))
	r.P99 = finite(stats.Quantile(lat, 0.99))
	r.QueueP50 = finite(stats.Quantile(queue, 0.5))
	return r, nil
}
