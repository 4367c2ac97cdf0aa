package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/hdscale/hdscale/e2e/bench/internal/stats"
)

// report is what schedbench writes as JSON and prints as Markdown.
type report struct {
	Mode     string          `json:"mode"`
	Nodes    int             `json:"nodes"`
	Pool     int             `json:"poolNodes"`
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
	// MedianCPUMsPerPod is, per measured process, the median over rounds of
	// its CPU per pod; "total" sums the processes of each round first.
	MedianCPUMsPerPod map[string]float64 `json:"medianCpuMsPerPod,omitempty"`
	// MedianNetCPUMsPerPod is the same for the idle-corrected figures.
	MedianNetCPUMsPerPod map[string]float64 `json:"medianNetCpuMsPerPod,omitempty"`
}

func summarize(o options, rounds []roundResult) report {
	rep := report{Mode: o.Mode, Nodes: o.Nodes, Pool: o.PoolNodes, NodeCPU: o.NodeCPU, Pods: o.Pods, Rounds: rounds}
	for _, v := range o.Variants {
		var pps, mean, p99, fm, fp, pm, pp []float64
		cpu, net := map[string][]float64{}, map[string][]float64{}
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
			total := 0.0
			for name, ms := range r.CPUMsPerPod {
				cpu[name] = append(cpu[name], ms)
				total += ms
			}
			if len(r.CPUMsPerPod) > 0 {
				cpu["total"] = append(cpu["total"], total)
			}
			total = 0
			for name, ms := range r.NetCPUMsPerPod {
				net[name] = append(net[name], ms)
				total += ms
			}
			if len(r.NetCPUMsPerPod) > 0 {
				net["total"] = append(net["total"], total)
			}
			vr.Unbound += r.Pods - r.Bound
			vr.OverCap += r.OverCap
		}
		lo, hi := stats.MinMax(pps)
		vr.MedianPodsPerSecond = finite(stats.Median(pps))
		vr.MinPodsPerSecond, vr.MaxPodsPerSecond = finite(lo), finite(hi)
		vr.MedianAlgoMeanMs = finite(stats.Median(mean))
		vr.MedianAlgoP99Ms = finite(stats.Median(p99))
		vr.MedianCPUMsPerPod, vr.MedianNetCPUMsPerPod = medians(cpu), medians(net)
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
	fmt.Fprintf(w, "\nmode %s: %d nodes x %d CPU (%d in the pool), %d pods per round, %d rounds per scheduler\n\n",
		r.Mode, r.Nodes, r.NodeCPU, r.Pool, r.Pods, len(r.Rounds)/max(len(r.Variants), 1))
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
	r.cpuTable(w)
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

func medians(m map[string][]float64) map[string]float64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]float64, len(m))
	for name, xs := range m {
		out[name] = finite(stats.Median(xs))
	}
	return out
}

// cpuTable prints the median CPU per pod of every measured process, by
// variant: idle-corrected per process, then the corrected and the gross
// total, each also relative to the first variant.
func (r report) cpuTable(w io.Writer) {
	names := map[string]bool{}
	for _, v := range r.Variants {
		for n := range v.MedianCPUMsPerPod {
			if n != "total" {
				names[n] = true
			}
		}
	}
	if len(names) == 0 {
		return
	}
	cols := make([]string, 0, len(names))
	for n := range names {
		cols = append(cols, n)
	}
	sort.Strings(cols)
	b0 := r.Variants[0]
	fmt.Fprintf(w, "\nCPU per bound pod (ms, median of rounds, first create to last bound; per process net of its idle CPU rate):\n\n")
	fmt.Fprintf(w, "| scheduler | %s | net total | vs %s | gross total | vs %s |\n|---|", strings.Join(cols, " | "), b0.Name, b0.Name)
	fmt.Fprint(w, strings.Repeat("---:|", len(cols)+4), "\n")
	rel := func(a, b float64) string {
		if b <= 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	for _, v := range r.Variants {
		fmt.Fprintf(w, "| %s |", v.Name)
		for _, c := range cols {
			fmt.Fprintf(w, " %.2f |", v.MedianNetCPUMsPerPod[c])
		}
		fmt.Fprintf(w, " %.2f | %s | %.2f | %s |\n", v.MedianNetCPUMsPerPod["total"], rel(v.MedianNetCPUMsPerPod["total"], b0.MedianNetCPUMsPerPod["total"]),
			v.MedianCPUMsPerPod["total"], rel(v.MedianCPUMsPerPod["total"], b0.MedianCPUMsPerPod["total"]))
	}
}
