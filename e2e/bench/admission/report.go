package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Results are everything one run measured.
type Results struct {
	Case      string   `json:"case"`
	Options   string   `json:"options"`
	Cluster   string   `json:"cluster"`
	Admission string   `json:"admission"`
	Effects   []Effect `json:"effects"`
	Rounds    []Round  `json:"rounds"`
}

func describeCluster(ctx context.Context, c kubernetes.Interface) (string, error) {
	v, err := c.Discovery().ServerVersion()
	if err != nil {
		return "", fmt.Errorf("server version: %w", err)
	}
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	rt := ""
	if len(nodes.Items) > 0 {
		ni := nodes.Items[0].Status.NodeInfo
		rt = fmt.Sprintf(", %s, kubelet %s", ni.ContainerRuntimeVersion, ni.KubeletVersion)
	}
	return fmt.Sprintf("kube-apiserver %s, %d nodes%s", v.GitVersion, len(nodes.Items), rt), nil
}

func median(xs []float64) float64 {
	var ys []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			ys = append(ys, x)
		}
	}
	if len(ys) == 0 {
		return math.NaN()
	}
	sort.Float64s(ys)
	if len(ys)%2 == 1 {
		return ys[len(ys)/2]
	}
	return (ys[len(ys)/2-1] + ys[len(ys)/2]) / 2
}

func minMax(xs []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		if !math.IsNaN(x) {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	return lo, hi
}

// byKey indexes rounds by concurrency, variant and round number.
type byKey map[int]map[string]map[int]Round

func index(rs []Round) byKey {
	out := byKey{}
	for _, r := range rs {
		if out[r.Concurrency] == nil {
			out[r.Concurrency] = map[string]map[int]Round{}
		}
		if out[r.Concurrency][r.Variant] == nil {
			out[r.Concurrency][r.Variant] = map[int]Round{}
		}
		out[r.Concurrency][r.Variant][r.Round] = r
	}
	return out
}

// perRound collects f(round of v, round of base) over the rounds both have.
func perRound(idx byKey, c int, v, base string, f func(x, b Round) float64) []float64 {
	var out []float64
	for n, x := range idx[c][v] {
		if b, ok := idx[c][base][n]; ok {
			out = append(out, f(x, b))
		}
	}
	return out
}

func collect(idx byKey, c int, v string, f func(Round) float64) []float64 {
	var out []float64
	for _, r := range idx[c][v] {
		out = append(out, f(r))
	}
	return out
}

var variantTitles = map[string]string{
	"none":       "(a) no mutation",
	"map":        "(b) MutatingAdmissionPolicy",
	"noop":       "(c) no-op webhook",
	"hdscale":    "(d) hdscale webhook",
	"noop-patch": "(e) no-op webhook + 1-op patch",
	"kyverno":    "(f) Kyverno",
	"gatekeeper": "(g) Gatekeeper",
}

func writeReport(w io.Writer, res Results, o options) {
	fmt.Fprintf(w, "Cluster: %s. Pod: %s. %s.\n\n", res.Cluster, res.Case, res.Options)
	fmt.Fprintf(w, "Admission configured in the cluster during the run: %s.\n\n", res.Admission)
	fmt.Fprintln(w, "What each variant did to the pod (dry-run answer):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| variant | schedulerName | pool toleration | pool nodeSelector | runtime CPU request/limit | runtime env | hdscale.io/policy | "+noopPatchAnnotation+" | warnings | same fields as (d) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---:|---|")
	for _, e := range res.Effects {
		same := e.SameAsHdscale
		if same == "" {
			same = "–"
		}
		fmt.Fprintf(w, "| %s | %s | %v | %v | %s | %s | %v | %v | %d | %s |\n", variantTitles[e.Variant], e.SchedulerName, yes(e.Toleration),
			yes(e.NodeSelector), e.CPU, e.Env, yes(e.Annotation), yes(e.NoopAnnotation), e.Warnings, same)
	}
	fmt.Fprintln(w)
	if usesEngine(o.variants) {
		fmt.Fprintln(w, "\"same fields as (d)\": the policy engine's dry-run answer carries exactly what hdscale's webhook writes "+
			"(schedulerName, tolerations, nodeSelector, every container's resources and env, the hdscale.io/ annotations); "+
			"the run stops before measuring when it does not. The engines apply the same constants as (b), computed once "+
			"at setup from the pool and hdscale's answer for the bench pod (hdscale sizes every admission from its informers).")
		fmt.Fprintln(w)
	}
	if has(o.variants, "noop") && has(o.variants, "noop-patch") {
		fmt.Fprintf(w, "%s differs from %s only in its answer: a JSON patch of one operation adding the annotation %s. "+
			"So (e) − (c) is the API server's own cost of accepting a patch from a webhook (encoding the object, applying the patch, "+
			"decoding the result: work an answer without a patch never triggers), which any mutating webhook pays, however small its patch. "+
			"The target line below compares hdscale with (c), as the target is stated; the line comparing it with (e) leaves hdscale's own cost "+
			"and the extra cost of applying its larger patch.\n\n", variantTitles["noop-patch"], variantTitles["noop"], noopPatchAnnotation)
	}
	idx := index(res.Rounds)
	for _, c := range o.concurrency {
		fmt.Fprintf(w, "Concurrency %d, medians over %d rounds:\n\n", c, o.rounds)
		fmt.Fprintln(w, "| variant | p50 | p90 | p99 | throughput | apiserver CPU/req | webhook pods CPU/req | +p50 vs (a) | +p90 vs (a) | +p99 vs (a) | throughput vs (a) | +apiserver CPU/req vs (a) | errors | unexpected |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, v := range o.variants {
			rs := idx[c][v]
			if len(rs) == 0 {
				continue
			}
			var errs, unexp int
			for _, r := range rs {
				errs += r.Errors
				unexp += r.Unmutated
			}
			wh := "–"
			if x := median(collect(idx, c, v, func(r Round) float64 { return r.WebhookCPUPerReq })); x > 0 {
				wh = fmt.Sprintf("%.0f µs", x*1e6)
			}
			delta := func(f func(Round) float64, format string) string {
				if v == "none" {
					return "–"
				}
				return fmt.Sprintf(format, median(perRound(idx, c, v, "none", func(x, b Round) float64 { return f(x) - f(b) })))
			}
			ratio := "–"
			if v != "none" {
				ratio = fmt.Sprintf("%.2f×", median(perRound(idx, c, v, "none", func(x, b Round) float64 { return x.Throughput / b.Throughput })))
			}
			fmt.Fprintf(w, "| %s | %.2f ms | %.2f ms | %.2f ms | %.0f/s | %.0f µs | %s | %s | %s | %s | %s | %s | %d | %d |\n", variantTitles[v],
				median(collect(idx, c, v, func(r Round) float64 { return r.P50 })),
				median(collect(idx, c, v, func(r Round) float64 { return r.P90 })),
				median(collect(idx, c, v, func(r Round) float64 { return r.P99 })),
				median(collect(idx, c, v, func(r Round) float64 { return r.Throughput })),
				1e6*median(collect(idx, c, v, func(r Round) float64 { return r.APIServerCPUPerReq })), wh,
				delta(func(r Round) float64 { return r.P50 }, "%+.2f ms"), delta(func(r Round) float64 { return r.P90 }, "%+.2f ms"),
				delta(func(r Round) float64 { return r.P99 }, "%+.2f ms"), ratio,
				delta(func(r Round) float64 { return 1e6 * r.APIServerCPUPerReq }, "%+.0f µs"), errs, unexp)
		}
		fmt.Fprintln(w)
		if has(o.variants, "hdscale") && has(o.variants, "noop") {
			writeTargets(w, idx, c)
		}
		if has(o.variants, "noop") && has(o.variants, "noop-patch") {
			writePatchCost(w, idx, c)
		}
		if has(o.variants, "hdscale") && has(o.variants, "noop-patch") {
			writeVsPatchingNoop(w, idx, c)
		}
		for _, e := range engines {
			if has(o.variants, "hdscale") && has(o.variants, e.variant) {
				writeVsEngine(w, idx, c, e)
			}
		}
	}
	if has(o.variants, "hdscale") {
		var means []string
		for _, c := range o.concurrency {
			if x := median(collect(idx, c, "hdscale", func(r Round) float64 { return r.WebhookServerMeanMs })); x > 0 {
				means = append(means, fmt.Sprintf("%.2f ms at concurrency %d", x, c))
			}
		}
		if len(means) > 0 {
			fmt.Fprintf(w, "hdscale's own mean admission time in the cluster (its histogram, both replicas): %s.\n", strings.Join(means, ", "))
		}
	}
}

// hopComparison is hdscale's hop against a reference webhook's at one
// concurrency: medians of per-round deltas over "none" and of per-round
// ratios.
type hopComparison struct {
	hd, ref       float64   // median added p50 over (a), ms
	perRoundRatio []float64 // hdscale's added p50 / ref's, per round
	tput          []float64 // hdscale's throughput / ref's, per round
}

func compareHop(idx byKey, c int, ref string) hopComparison {
	added := func(v string) []float64 {
		return perRound(idx, c, v, "none", func(x, b Round) float64 { return x.P50 - b.P50 })
	}
	return hopComparison{
		hd:  median(added("hdscale")),
		ref: median(added(ref)),
		perRoundRatio: perRound(idx, c, "hdscale", ref, func(x, n Round) float64 {
			b := idx[c]["none"][x.Round]
			return (x.P50 - b.P50) / (n.P50 - b.P50)
		}),
		tput: perRound(idx, c, "hdscale", ref, func(x, n Round) float64 { return x.Throughput / n.Throughput }),
	}
}

// writeTargets compares hdscale's hop with the no-op webhook's.
func writeTargets(w io.Writer, idx byKey, c int) {
	h := compareHop(idx, c, "noop")
	hd, nop, perRoundRatio, tput := h.hd, h.ref, h.perRoundRatio, h.tput
	lo, hi := minMax(tput)
	rlo, rhi := minMax(perRoundRatio)
	fmt.Fprintf(w, "hdscale vs the no-op webhook at concurrency %d: added p50 %+.2f ms vs %+.2f ms = %.2f× (median of per-round ratios %.2f×, range %.2f–%.2f; target ≤ 1.1×: %s); throughput %.3f× (per-round range %.3f–%.3f; target ≥ 0.95×: %s).\n\n",
		c, hd, nop, hd/nop, median(perRoundRatio), rlo, rhi, met(hd/nop <= 1.1), median(tput), lo, hi, met(median(tput) >= 0.95))
}

// writePatchCost reports (e) − (c): what accepting a one-operation patch
// costs the API server.
func writePatchCost(w io.Writer, idx byKey, c int) {
	diff := func(f func(Round) float64) float64 {
		return median(perRound(idx, c, "noop-patch", "noop", func(x, n Round) float64 { return f(x) - f(n) }))
	}
	tput := median(perRound(idx, c, "noop-patch", "noop", func(x, n Round) float64 { return x.Throughput / n.Throughput }))
	fmt.Fprintf(w, "The API server's cost of accepting a patch at concurrency %d, (e) − (c): p50 %+.2f ms, p99 %+.2f ms, throughput %.3f×, apiserver CPU/req %+.0f µs (medians of per-round differences and ratios).\n\n",
		c, diff(func(r Round) float64 { return r.P50 }), diff(func(r Round) float64 { return r.P99 }), tput,
		diff(func(r Round) float64 { return 1e6 * r.APIServerCPUPerReq }))
}

// writeVsPatchingNoop compares hdscale's hop with the patching no-op
// webhook's, the same way writeTargets does with the plain one (no target:
// the target is stated against the plain no-op webhook).
func writeVsPatchingNoop(w io.Writer, idx byKey, c int) {
	h := compareHop(idx, c, "noop-patch")
	lo, hi := minMax(h.tput)
	rlo, rhi := minMax(h.perRoundRatio)
	cpu := median(perRound(idx, c, "hdscale", "noop-patch", func(x, n Round) float64 { return 1e6 * (x.APIServerCPUPerReq - n.APIServerCPUPerReq) }))
	fmt.Fprintf(w, "hdscale vs a patching no-op webhook at concurrency %d: added p50 %+.2f ms vs %+.2f ms = %.2f× (median of per-round ratios %.2f×, range %.2f–%.2f); throughput %.3f× (per-round range %.3f–%.3f); apiserver CPU/req %+.0f µs over (e).\n\n",
		c, h.hd, h.ref, h.hd/h.ref, median(h.perRoundRatio), rlo, rhi, median(h.tput), lo, hi, cpu)
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// engineTargets are the targets against each engine (hdscale's
// added p50 and webhook pods' CPU per admission as a fraction of the
// engine's; 0: no target).
var engineTargets = map[string]struct{ p50, cpu float64 }{
	"kyverno":    {p50: 1.0 / 3, cpu: 1.0 / 3},
	"gatekeeper": {p50: 1},
}

// writeVsEngine compares hdscale with a policy engine doing the same
// mutation: added p50 (medians of per-round deltas over (a), and the
// median of per-round ratios), throughput, the webhook pods' CPU per
// admission and kube-apiserver's CPU per request.
func writeVsEngine(w io.Writer, idx byKey, c int, e engine) {
	h := compareHop(idx, c, e.variant)
	rlo, rhi := minMax(h.perRoundRatio)
	lo, hi := minMax(h.tput)
	cpu := func(v string) float64 {
		return median(collect(idx, c, v, func(r Round) float64 { return r.WebhookCPUPerReq }))
	}
	hdCPU, enCPU := cpu("hdscale"), cpu(e.variant)
	api := median(perRound(idx, c, "hdscale", e.variant, func(x, n Round) float64 { return 1e6 * (x.APIServerCPUPerReq - n.APIServerCPUPerReq) }))
	t := engineTargets[e.variant]
	target := func(ratio, want float64) string {
		switch {
		case want == 0:
			return "no target"
		case math.IsNaN(ratio) || math.IsInf(ratio, 0) || ratio < 0:
			return fmt.Sprintf("target ≤ %.2f×: not measurable, an added value ≤ 0 (noise)", want)
		}
		return fmt.Sprintf("target ≤ %.2f×: %s", want, met(ratio <= want))
	}
	ratio := h.hd / h.ref
	if h.ref <= 0 {
		ratio = math.NaN() // a ratio to a non-positive delta means nothing
	}
	fmt.Fprintf(w, "hdscale vs %s at concurrency %d: added p50 %+.2f ms vs %+.2f ms = %.2f× (median of per-round ratios %.2f×, range %.2f–%.2f; %s); "+
		"throughput %.3f× (per-round range %.3f–%.3f); webhook pods' CPU per admission %.0f µs vs %.0f µs = %.2f× (%s); apiserver CPU/req %+.0f µs against %s.\n\n",
		e.title, c, h.hd, h.ref, ratio, median(h.perRoundRatio), rlo, rhi, target(ratio, t.p50),
		median(h.tput), lo, hi, hdCPU*1e6, enCPU*1e6, hdCPU/enCPU, target(hdCPU/enCPU, t.cpu), api, e.title)
}
