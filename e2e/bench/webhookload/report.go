package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"sort"
	"time"
)

// Results are everything one run measured.
type Results struct {
	Case      string       `json:"case"`
	BodyBytes int          `json:"bodyBytes"`
	Options   string       `json:"options"`
	GoVersion string       `json:"goVersion"`
	Examples  []Example    `json:"examples"`
	Steps     []Step       `json:"steps"`
	Peak      []PeakMemory `json:"peak"`
	Profile   string       `json:"profile,omitempty"`
}

// PeakMemory is a target process's VmHWM (and VmRSS) after all steps.
type PeakMemory struct {
	Target       string `json:"target"`
	PeakRSSBytes uint64 `json:"peakRssBytes"`
	RSSBytes     uint64 `json:"rssBytes"`
}

// agg merges one target's steps at one rate over the rounds.
type agg struct {
	target                  string
	rate                    float64
	client, service, server Snapshot
	lag                     Snapshot
	prom                    *PromHistogram
	achieved                []float64
	admissions, seconds     float64
	cpu, genCPU             float64
	mallocs, allocBytes     float64
	gcs                     float64
	errors, ok              uint64
	maxInflight             int64
}

func aggregate(steps []Step) map[string]map[float64]*agg {
	out := map[string]map[float64]*agg{}
	for _, s := range steps {
		if out[s.Target] == nil {
			out[s.Target] = map[float64]*agg{}
		}
		a := out[s.Target][s.Rate]
		if a == nil {
			a = &agg{target: s.Target, rate: s.Rate}
			out[s.Target][s.Rate] = a
		}
		a.client.Merge(s.Client)
		a.service.Merge(s.Service)
		a.server.Merge(s.Server)
		a.lag.Merge(s.Lag)
		if s.Prom != nil {
			if a.prom == nil {
				p := *s.Prom
				p.Counts = append([]float64(nil), p.Counts...)
				a.prom = &p
			} else {
				for i := range a.prom.Counts {
					if i < len(s.Prom.Counts) {
						a.prom.Counts[i] += s.Prom.Counts[i]
					}
				}
				a.prom.Sum += s.Prom.Sum
				a.prom.Count += s.Prom.Count
			}
		}
		a.achieved = append(a.achieved, s.Achieved)
		a.admissions += s.ServerAdmissions()
		a.seconds += s.Seconds
		a.cpu += s.After.CPUSeconds - s.Before.CPUSeconds
		a.genCPU += s.GenCPUSeconds
		a.mallocs += float64(s.After.Mallocs) - float64(s.Before.Mallocs)
		a.allocBytes += float64(s.After.AllocBytes) - float64(s.Before.AllocBytes)
		a.gcs += float64(s.After.NumGC) - float64(s.Before.NumGC)
		a.errors += s.Errors
		a.ok += s.OK
		a.maxInflight = max(a.maxInflight, s.MaxInflight)
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
}

func perAdmission(x, n float64) float64 {
	if n <= 0 {
		return math.NaN()
	}
	return x / n
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// writeReport prints the markdown tables of a run.
func writeReport(w io.Writer, r Results, rates []float64) {
	ag := aggregate(r.Steps)
	fmt.Fprintf(w, "AdmissionReview: %s as kube-apiserver sends it (%d bytes); %s. Go %s, GOMAXPROCS %d (generator).\n\n",
		r.Case, r.BodyBytes, r.Options, runtime.Version(), runtime.GOMAXPROCS(0))
	if len(r.Examples) > 0 {
		ex := r.Examples[0]
		fmt.Fprintf(w, "hdscale answers: allowed, JSON patch of %d operations (%d bytes), %d warnings, %d-byte response.\n\n",
			ex.PatchOps, ex.PatchBytes, ex.Warnings, ex.ResponseBytes)
	}

	fmt.Fprintln(w, "hdscale webhook (server side = in-process fine histogram over the handler; ≤1 ms = share of admissions in the webhook's own hdscale_webhook_admission_duration_seconds le=0.001 bucket):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| offered/s | achieved/s | server p50 | server p99 | server p99.9 | ≤1 ms | client p50 | client p99 | client p99.9 | CPU/admission | allocs/admission | bytes/admission | GCs/s | errors |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, rate := range rates {
		a := ag["hdscale"][rate]
		if a == nil {
			continue
		}
		le1 := "–"
		if a.prom != nil {
			le1 = fmt.Sprintf("%.2f%%", 100*a.prom.FractionAtMost(0.001))
		}
		fmt.Fprintf(w, "| %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s | %.0f µs | %.0f | %.1f KiB | %.1f | %d |\n",
			rate, median(a.achieved), fmtDur(a.server.Quantile(0.5)), fmtDur(a.server.Quantile(0.99)), fmtDur(a.server.Quantile(0.999)), le1,
			fmtDur(a.client.Quantile(0.5)), fmtDur(a.client.Quantile(0.99)), fmtDur(a.client.Quantile(0.999)),
			1e6*perAdmission(a.cpu, a.admissions), perAdmission(a.mallocs, a.admissions), perAdmission(a.allocBytes, a.admissions)/1024,
			a.gcs/a.seconds, a.errors)
	}
	fmt.Fprintln(w)
	if ag["noop"] == nil {
		writeGenerator(w, ag, rates)
		writePeak(w, r)
		return
	}
	fmt.Fprintln(w, "No-op webhook (e2e/bench/noopwebhook) under the same generator, interleaved:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| offered/s | achieved/s | client p50 | client p99 | client p99.9 | CPU/admission | allocs/admission | bytes/admission | errors |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, rate := range rates {
		a := ag["noop"][rate]
		if a == nil {
			continue
		}
		fmt.Fprintf(w, "| %.0f | %.0f | %s | %s | %s | %.0f µs | %.0f | %.1f KiB | %d |\n",
			rate, median(a.achieved), fmtDur(a.client.Quantile(0.5)), fmtDur(a.client.Quantile(0.99)), fmtDur(a.client.Quantile(0.999)),
			1e6*perAdmission(a.cpu, a.admissions), perAdmission(a.mallocs, a.admissions), perAdmission(a.allocBytes, a.admissions)/1024, a.errors)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "hdscale relative to the no-op webhook (same run):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| offered/s | client p50 | client p99 | client p99.9 | CPU/admission | throughput |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|")
	for _, rate := range rates {
		h, n := ag["hdscale"][rate], ag["noop"][rate]
		if h == nil || n == nil {
			continue
		}
		ratio := func(a, b time.Duration) string {
			return fmt.Sprintf("%.2f× (%+.0f µs)", float64(a)/float64(b), float64(a-b)/1e3)
		}
		fmt.Fprintf(w, "| %.0f | %s | %s | %s | %.2f× | %.3f× |\n", rate,
			ratio(h.client.Quantile(0.5), n.client.Quantile(0.5)), ratio(h.client.Quantile(0.99), n.client.Quantile(0.99)),
			ratio(h.client.Quantile(0.999), n.client.Quantile(0.999)),
			perAdmission(h.cpu, h.admissions)/perAdmission(n.cpu, n.admissions), median(h.achieved)/median(n.achieved))
	}
	fmt.Fprintln(w)
	writeGenerator(w, ag, rates)
	writePeak(w, r)
}

// writeGenerator shows whether the generator kept its schedule.
func writeGenerator(w io.Writer, ag map[string]map[float64]*agg, rates []float64) {
	fmt.Fprintln(w, "Generator: send lag (actual minus scheduled send time; large values mean the machine, not the server, fell behind) and most requests in flight:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | offered/s | lag p50 | lag p99 | max in flight | generator CPU |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, t := range []string{"hdscale", "noop"} {
		for _, rate := range rates {
			a := ag[t][rate]
			if a == nil {
				continue
			}
			fmt.Fprintf(w, "| %s | %.0f | %s | %s | %d | %.2f cores |\n", t, rate, fmtDur(a.lag.Quantile(0.5)), fmtDur(a.lag.Quantile(0.99)),
				a.maxInflight, a.genCPU/a.seconds)
		}
	}
	fmt.Fprintln(w)
}

func writePeak(w io.Writer, r Results) {
	for _, p := range r.Peak {
		fmt.Fprintf(w, "Peak memory (VmHWM) of the %s process after all steps: %s (VmRSS %s).\n", p.Target, mib(p.PeakRSSBytes), mib(p.RSSBytes))
	}
	if r.Profile != "" {
		fmt.Fprintf(w, "\nCPU profile: %s.\n", r.Profile)
	}
}
