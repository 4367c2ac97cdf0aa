package main

import (
	"fmt"
	"io"
	"math"

	"github.com/hdscale/hdscale/e2e/bench/internal/stats"
)

// report is what schedbench writes as JSON and prints as Markdown.
type report struct {
	Mode     string          `json:"mode"`
	Nodes    int             `json:"nodes"`
	NodeCPU  int64           `json:"nodeCPU"`
	Pods     int             `json:"podsPerRound"`
	Rounds   []roundResult   `json:"rounds"`
	Variants []variantResult `json:"variants"`
	// Ratios are each other variant's median pods/s over the first's (the
	// baseline), by variant name.
	Ratios map[string]float64 `json:"ratios"`
}

type variantResult struct {
	Name                string  `json:"name"`
	Scheduler           string  `json:"scheduler"`
	MedianPodsPerSecond float64 `json:"medianPodsPerSecond"`
	MinPodsPerSecond    float64 `json:"minPodsPerSecond"`
	MaxPodsPerSecond    float64 `json:"maxPodsPerSecond"`
	MedianAlgoMeanMs    float64 `json:"medianAlgoMeanMs"`
	MedianAlgoP99Ms     float64 `json:"medianAlgoP99Ms"`
	// Medians over rounds of the extender's own per-request figures.
	MedianExtFilterMeanMs     float64 `json:"medianExtenderFilterMeanMs,omitempty"`
	MedianExtFilterP99Ms      float64 `json:"medianExtenderFilterP99Ms,omitempty"`
	MedianExtPrioritizeMeanMs float64 `json:"medianExtenderPrioritizeMeanMs,omitempty"`
	MedianExtPrioritizeP99Ms  float64 `json:"medianExtenderPrioritizeP99Ms,omitempty"`
	Unbound                   int     `json:"unbound"`
	OverCap                   int     `json:"overCap"`
}

func summarize(o options, rounds []roundResult) report {
	rep := report{Mode: o.Mode, Nodes: o.Nodes, NodeCPU: o.NodeCPU, Pods: o.Pods, Rounds: rounds}
	for _, v := range o.Variants {
		var pps, mean, p99, fm, fp, pm, pp []float64
		vr := variantResult{Name: v.Name, Scheduler: v.Scheduler}
		for _, r := range rounds {
			if r.Variant != v.Name {
				continue
			}
			pps = append(pps, r.PodsPerSecond)
			if r.AlgoMeanMs > 0 {
				mean = append(mean, r.AlgoMeanMs)
				p99 = append(p99, r.AlgoP99Ms)
			}
			if r.ExtFilterMeanMs > 0 {
				fm, fp = append(fm, r.ExtFilterMeanMs), append(fp, r.ExtFilterP99Ms)
				pm, pp = append(pm, r.ExtPrioritizeMeanMs), append(pp, r.ExtPrioritizeP99Ms)
			}
			vr.Unbound += r.Pods - r.Bound
			vr.OverCap += r.OverCap
		}
		lo, hi := stats.MinMax(pps)
		vr.MedianPodsPerSecond = finite(stats.Median(pps))
		vr.MinPodsPerSecond, vr.MaxPodsPerSecond = finite(lo), finite(hi)
		vr.MedianAlgoMeanMs = finite(stats.Median(mean))
		vr.MedianAlgoP99Ms = finite(stats.Median(p99))
		vr.MedianExtFilterMeanMs, vr.MedianExtFilterP99Ms = finite(stats.Median(fm)), finite(stats.Median(fp))
		vr.MedianExtPrioritizeMeanMs, vr.MedianExtPrioritizeP99Ms = finite(stats.Median(pm)), finite(stats.Median(pp))
		rep.Variants = append(rep.Variants, vr)
	}
	rep.Ratios = map[string]float64{}
	for _, v := range rep.Variants[1:] {
		if base := rep.Variants[0].MedianPodsPerSecond; base > 0 {
			rep.Ratios[v.Name] = v.MedianPodsPerSecond / base
		}
	}
	return rep
}

func (r report) markdown(w io.Writer) {
	fmt.Fprintf(w, "\nmode %s: %d nodes x %d CPU, %d pods per round, %d rounds per scheduler\n\n",
		r.Mode, r.Nodes, r.NodeCPU, r.Pods, len(r.Rounds)/max(len(r.Variants), 1))
	fmt.Fprintln(w, "| scheduler | median pods/s | min–max pods/s | algorithm mean (ms) | algorithm p99 (ms) | unbound | over cap |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, v := range r.Variants {
		fmt.Fprintf(w, "| %s (`%s`) | %.1f | %.1f–%.1f | %s | %s | %d | %d |\n", v.Name, v.Scheduler,
			v.MedianPodsPerSecond, v.MinPodsPerSecond, v.MaxPodsPerSecond, ms(v.MedianAlgoMeanMs), ms(v.MedianAlgoP99Ms),
			v.Unbound, v.OverCap)
	}
	if len(r.Variants) > 1 {
		fmt.Fprintln(w)
	}
	for _, v := range r.Variants[1:] {
		fmt.Fprintf(w, "ratio %s/%s of median pods/s: %.2f\n", v.Name, r.Variants[0].Name, r.Ratios[v.Name])
	}
	for _, v := range r.Variants {
		if v.MedianExtFilterMeanMs > 0 {
			fmt.Fprintf(w, "\n%s: extender's own request time (median of rounds): filter mean %.2f ms, p99 %.2f ms; prioritize mean %.2f ms, p99 %.2f ms\n",
				v.Name, v.MedianExtFilterMeanMs, v.MedianExtFilterP99Ms, v.MedianExtPrioritizeMeanMs, v.MedianExtPrioritizeP99Ms)
		}
	}
	fmt.Fprintln(w, "\n| round | scheduler | pods/s | create (s) | first create/resume → last bound (s) | bind span (s) | algorithm mean / p99 (ms) | nodes used | max per node | load avg |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range r.Rounds {
		fmt.Fprintf(w, "| %d | %s | %.1f | %.1f | %.1f | %.1f | %s / %s | %d | %d | %.1f |\n", x.Round, x.Variant, x.PodsPerSecond,
			x.CreateSeconds, x.TotalSeconds, x.BindSpanSeconds, ms(x.AlgoMeanMs), ms(x.AlgoP99Ms), x.NodesUsed, x.MaxPerNode, x.LoadAvg)
	}
}

func ms(v float64) string {
	if v == 0 || math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

// finite maps NaN and ±Inf to 0 (JSON has no NaN; 0 prints as "–").
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
