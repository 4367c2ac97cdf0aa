package main

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/hdscale/hdscale/e2e/bench/internal/stats"
)

// report is what makespan writes as JSON and prints as Markdown.
type report struct {
	Pattern     string          `json:"pattern"`
	Replicas    int             `json:"replicas"`
	Quota       float64         `json:"nodeQuotaCores"`
	Background  float64         `json:"backgroundCores"`
	Executions  int             `json:"executions"`
	ExecCPU     float64         `json:"execCPUSeconds"`
	Connections int             `json:"connections"`
	Rounds      []roundResult   `json:"rounds"`
	Summary     []summaryResult `json:"summary"`
	// MedianRatio and ModelMedianRatio are the medians over rounds of
	// hdscale's makespan over the default scheduler's, measured and in the
	// model.
	MedianRatio      float64 `json:"medianMakespanRatio"`
	ModelMedianRatio float64 `json:"modelMedianMakespanRatio"`
}

type summaryResult struct {
	Name           string  `json:"name"`
	MedianMakespan float64 `json:"medianMakespanSeconds"`
	MedianModel    float64 `json:"medianModelMakespanSeconds"`
	// ModelOverMeasured is the median over rounds of model / measured makespan.
	ModelOverMeasured float64 `json:"medianModelOverMeasured"`
	MedianP50         float64 `json:"medianP50Seconds"`
	MedianP99         float64 `json:"medianP99Seconds"`
	// OnLoaded is how many replicas the variant put on the loaded node, over all rounds.
	OnLoaded int `json:"replicasOnLoadedNode"`
	// LoadedCPU is the median CPU of the loaded node during the batch;
	// OtherCPU the median of the other nodes'.
	LoadedCPU float64 `json:"medianLoadedNodeCPUCores"`
	OtherCPU  float64 `json:"medianOtherNodeCPUCores"`
}

func summarize(o options, rounds []roundResult) report {
	rep := report{
		Pattern: string(o.Pattern), Replicas: o.Replicas, Quota: o.Quota, Background: o.Background,
		Executions: o.Executions, ExecCPU: o.ExecCPU, Connections: o.Connections, Rounds: rounds,
	}
	for i, v := range variants {
		s := summaryResult{Name: v.Name}
		var mk, model, agree, p50, p99, loaded, other []float64
		for _, r := range rounds {
			vr := r.Variants[i]
			mk = append(mk, vr.Batch.Makespan)
			model = append(model, inf(vr.ModelMakespan))
			agree = append(agree, inf(vr.ModelMakespan)/vr.Batch.Makespan)
			p50 = append(p50, vr.Batch.P50)
			p99 = append(p99, vr.Batch.P99)
			for j, n := range r.Nodes {
				if j >= len(vr.NodeCPU) {
					break
				}
				if n == r.Loaded {
					s.OnLoaded += vr.PerNode[j]
					loaded = append(loaded, vr.NodeCPU[j])
				} else {
					other = append(other, vr.NodeCPU[j])
				}
			}
		}
		s.MedianMakespan = finite(stats.Median(mk))
		s.MedianModel = finite(stats.Median(model))
		s.ModelOverMeasured = finite(stats.Median(agree))
		s.MedianP50 = finite(stats.Median(p50))
		s.MedianP99 = finite(stats.Median(p99))
		s.LoadedCPU = finite(stats.Median(loaded))
		s.OtherCPU = finite(stats.Median(other))
		rep.Summary = append(rep.Summary, s)
	}
	var ratios, modelRatios []float64
	for _, r := range rounds {
		a, b := r.Variants[0], r.Variants[1]
		ratios = append(ratios, b.Batch.Makespan/a.Batch.Makespan)
		modelRatios = append(modelRatios, inf(b.ModelMakespan)/inf(a.ModelMakespan))
	}
	rep.MedianRatio = finite(stats.Median(ratios))
	rep.ModelMedianRatio = finite(stats.Median(modelRatios))
	return rep
}

// inf maps the JSON-safe "never finishes" marker (-1) to +Inf.
func inf(v float64) float64 {
	if v < 0 {
		return math.Inf(1)
	}
	return v
}

func secs(v float64) string {
	if v < 0 || math.IsInf(v, 1) {
		return "∞"
	}
	return fmt.Sprintf("%.1f", v)
}

func ratioStr(v float64) string {
	if v < 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

func (r report) markdown(w io.Writer) {
	a, b := r.Summary[0], r.Summary[1]
	fmt.Fprintf(w, "\npattern %s, %d replicas, pool nodes of %.2g CPU (docker quota), background %.2g cores on one node (rotating), batch %d x %g CPU-s over %d kept-alive connections, %d rounds\n\n",
		r.Pattern, r.Replicas, r.Quota, r.Background, r.Executions, r.ExecCPU, r.Connections, len(r.Rounds))
	fmt.Fprintf(w, "| | %s | %s | ratio %s/%s |\n|---|---:|---:|---:|\n", a.Name, b.Name, b.Name, a.Name)
	fmt.Fprintf(w, "| median makespan, measured (s) | %s | %s | **%s** (median of per-round ratios) |\n", secs(a.MedianMakespan), secs(b.MedianMakespan), ratioStr(r.MedianRatio))
	fmt.Fprintf(w, "| median makespan, model (s) | %s | %s | %s |\n", secs(a.MedianModel), secs(b.MedianModel), ratioStr(r.ModelMedianRatio))
	fmt.Fprintf(w, "| model / measured (median of rounds) | %s | %s | |\n", ratioStr(a.ModelOverMeasured), ratioStr(b.ModelOverMeasured))
	fmt.Fprintf(w, "| execution time p50 / p99 (s, median of rounds) | %s / %s | %s / %s | |\n", secs(a.MedianP50), secs(a.MedianP99), secs(b.MedianP50), secs(b.MedianP99))
	fmt.Fprintf(w, "| replicas on the loaded node (all rounds) | %d | %d | |\n", a.OnLoaded, b.OnLoaded)
	fmt.Fprintf(w, "| node CPU during the batch, loaded / others (cores, median) | %.2f / %.2f | %.2f / %.2f | |\n", a.LoadedCPU, a.OtherCPU, b.LoadedCPU, b.OtherCPU)
	fmt.Fprintf(w, "\nper round (per node in pool-node order; `*` marks the loaded node):\n\n")
	fmt.Fprintf(w, "| round | order | variant | replicas | connections | executions | background (cores) | node CPU in batch (cores) | makespan (s) | model (s) | p50 / p99 (s) |\n")
	fmt.Fprintln(w, "|---:|---|---|---|---|---|---|---|---:|---:|---|")
	for _, x := range r.Rounds {
		for _, v := range x.Variants {
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n", x.Round, strings.Join(x.Order, "→"), v.Name,
				perNode(x, ints(v.PerNode)), perNode(x, ints(v.Batch.ConnsPerNode)), perNode(x, ints(v.Batch.ExecsPerNode)), perNode(x, floats(v.Background)), perNode(x, floats(v.NodeCPU)),
				secs(v.Batch.Makespan), secs(v.ModelMakespan), secs(v.Batch.P50), secs(v.Batch.P99))
		}
	}
	if len(r.Rounds) > 0 && len(r.Rounds[0].Variants) > 1 {
		v := r.Rounds[0].Variants[1]
		fmt.Fprintf(w, "\nruntime pods as the webhook sized them: CPU request %dm, limit %g, %d worker(s) each\n", v.RequestMilli, v.LimitCores, v.Workers)
	}
}

func ints(xs []int) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprint(x)
	}
	return out
}

func floats(xs []float64) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%.2f", x)
	}
	return out
}

// perNode joins per-node values, the loaded node's marked with *.
func perNode(r roundResult, xs []string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = x
		if i < len(r.Nodes) && r.Nodes[i] == r.Loaded {
			parts[i] += "*"
		}
	}
	return strings.Join(parts, " ")
}
