package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/hdscale/hdscale/e2e/bench/internal/stats"
)

// report is what placement writes as JSON and prints as Markdown.
type report struct {
	Pattern    string          `json:"pattern"`
	NodeCPU    int64           `json:"nodeCPU"`
	Loads      []float64       `json:"loads"`
	Replicas   int             `json:"replicas"`
	Executions int             `json:"executions"`
	ExecCPU    float64         `json:"execCPUSeconds"`
	Rounds     []roundResult   `json:"rounds"`
	Summary    []summaryResult `json:"summary"`
	// MedianRatio is the median over rounds of the second variant's makespan
	// divided by the first's (same pool, same round).
	MedianRatio float64 `json:"medianMakespanRatio"`
	// MedianRound is the round whose ratio is closest to the median (plotted).
	MedianRound int `json:"medianRound"`
}

type summaryResult struct {
	Name            string  `json:"name"`
	MedianMakespan  float64 `json:"medianMakespanSeconds"`
	MedianImbalance float64 `json:"medianImbalance"`
	Unbound         int     `json:"unbound"`
}

// medianBest is the median over rounds of the model's best makespan.
func medianBest(rounds []roundResult) float64 {
	var xs []float64
	for _, r := range rounds {
		xs = append(xs, inf(r.Best))
	}
	return finite(stats.Median(xs))
}

func summarize(o options, rounds []roundResult) report {
	rep := report{
		Pattern: string(o.Pattern), NodeCPU: o.NodeCPU, Loads: o.Loads, Replicas: o.Replicas,
		Executions: o.Executions, ExecCPU: o.ExecCPU, Rounds: rounds,
	}
	for i, v := range o.Variants {
		var mk, imb []float64
		s := summaryResult{Name: v.Name}
		for _, r := range rounds {
			vr := r.Variants[i]
			mk = append(mk, inf(vr.Makespan))
			imb = append(imb, vr.Imbalance)
			s.Unbound += o.Replicas - vr.Bound
		}
		s.MedianMakespan = finite(stats.Median(mk))
		s.MedianImbalance = finite(stats.Median(imb))
		rep.Summary = append(rep.Summary, s)
	}
	var ratios []float64
	for _, r := range rounds {
		ratios = append(ratios, ratio(r))
	}
	med := stats.Median(ratios)
	rep.MedianRatio = finite(med)
	best := math.Inf(1)
	for i, x := range ratios {
		if d := math.Abs(x - med); d < best {
			best, rep.MedianRound = d, i
		}
	}
	return rep
}

// ratio is the second variant's makespan over the first's in round r.
func ratio(r roundResult) float64 {
	return inf(r.Variants[1].Makespan) / inf(r.Variants[0].Makespan)
}

// inf maps the JSON-safe "never finishes" marker (-1) back to +Inf.
func inf(v float64) float64 {
	if v < 0 {
		return math.Inf(1)
	}
	return v
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return -1
	}
	return v
}

func secs(v float64) string {
	if v < 0 || math.IsInf(v, 0) {
		return "∞"
	}
	return fmt.Sprintf("%.1f", v)
}

func (r report) markdown(w io.Writer) {
	a, b := r.Summary[0], r.Summary[1]
	fmt.Fprintf(w, "\npattern %s, %d nodes x %d CPU, background loads %v (permuted per round), %d replicas, batch %d x %.0f CPU-s, %d rounds\n\n",
		r.Pattern, len(r.Loads), r.NodeCPU, r.Loads, r.Replicas, r.Executions, r.ExecCPU, len(r.Rounds))
	fmt.Fprintf(w, "| | %s | %s | ratio %s/%s |\n|---|---:|---:|---:|\n", a.Name, b.Name, b.Name, a.Name)
	fmt.Fprintf(w, "| median makespan (s) | %s | %s | %.2f (median of per-round ratios) |\n", secs(a.MedianMakespan), secs(b.MedianMakespan), r.MedianRatio)
	fmt.Fprintf(w, "| median imbalance (max/mean node CPU demand) | %.2f | %.2f | |\n", a.MedianImbalance, b.MedianImbalance)
	fmt.Fprintf(w, "| replicas left unbound (all rounds) | %d | %d | |\n", a.Unbound, b.Unbound)
	fmt.Fprintf(w, "\nbest placement in the model (exhaustive search, median of rounds): %s s\n", secs(medianBest(r.Rounds)))
	fmt.Fprintf(w, "\nper round (replicas per node listed in order of the nodes' background load, lowest first: %v):\n\n", sortedLoads(r.Loads))
	fmt.Fprintf(w, "| round | seed | %s per node | %s per node | imbalance %s / %s | makespan %s / %s (s) | ratio | best (s) | best per node |\n",
		a.Name, b.Name, a.Name, b.Name, a.Name, b.Name)
	fmt.Fprintln(w, "|---:|---:|---|---|---:|---:|---:|---:|---|")
	for _, x := range r.Rounds {
		va, vb := x.Variants[0], x.Variants[1]
		fmt.Fprintf(w, "| %d | %d | %s | %s | %.2f / %.2f | %s / %s | %.2f | %s | %s |\n", x.Round, x.Seed,
			byLoad(x.Loads, va.PerNode), byLoad(x.Loads, vb.PerNode), va.Imbalance, vb.Imbalance,
			secs(va.Makespan), secs(vb.Makespan), ratio(x), secs(x.Best), byLoad(x.Loads, x.BestPerNode))
	}
}

func sortedLoads(loads []float64) []float64 {
	out := make([]float64, len(loads))
	for i, j := range sortedByLoad(loads) {
		out[i] = loads[j]
	}
	return out
}

func byLoad(loads []float64, perNode []int) string {
	if len(perNode) != len(loads) {
		return "–"
	}
	parts := make([]string, 0, len(perNode))
	for _, j := range sortedByLoad(loads) {
		parts = append(parts, fmt.Sprint(perNode[j]))
	}
	return strings.Join(parts, " ")
}

// writePlotData writes nodes.dat (the median round: per node, lowest load
// first: load, free cores, replicas per variant) and rounds.dat (per round:
// makespan per variant, the model's best) for e2e/bench/placement/plot.gp.
func (r report) writePlotData(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("plot dir: %w", err)
	}
	x := r.Rounds[r.MedianRound]
	var nb strings.Builder
	fmt.Fprintf(&nb, "# round %d (seed %d): node load free %s %s\n", x.Round, x.Seed, r.Summary[0].Name, r.Summary[1].Name)
	for _, j := range sortedByLoad(x.Loads) {
		fmt.Fprintf(&nb, "\"%g\" %g %g %d %d\n", x.Loads[j], x.Loads[j], float64(r.NodeCPU)-x.Loads[j],
			x.Variants[0].PerNode[j], x.Variants[1].PerNode[j])
	}
	var rb strings.Builder
	fmt.Fprintf(&rb, "# round %s %s best\n", r.Summary[0].Name, r.Summary[1].Name)
	for _, y := range r.Rounds {
		fmt.Fprintf(&rb, "%d %g %g %g\n", y.Round, y.Variants[0].Makespan, y.Variants[1].Makespan, y.Best)
	}
	if err := os.WriteFile(filepath.Join(dir, "nodes.dat"), []byte(nb.String()), 0o644); err != nil {
		return fmt.Errorf("writing nodes.dat: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rounds.dat"), []byte(rb.String()), 0o644); err != nil {
		return fmt.Errorf("writing rounds.dat: %w", err)
	}
	return nil
}
