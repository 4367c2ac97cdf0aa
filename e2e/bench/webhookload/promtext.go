package main

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/hdscale/hdscale/e2e/bench/internal/stats"
)

// PromHistogram is a Prometheus histogram: cumulative counts by upper bound.
type PromHistogram struct {
	Bounds []float64 // sorted, +Inf last
	Counts []float64 // cumulative
	Sum    float64
	Count  float64
}

// promHistogram reads histogram family name from s (series matching match
// summed).
func promHistogram(s stats.Samples, name string, match map[string]string) PromHistogram {
	byLE := map[float64]float64{}
	for _, x := range s[name+"_bucket"] {
		if !stats.Matches(x.Labels, match) {
			continue
		}
		le, err := strconv.ParseFloat(x.Labels["le"], 64)
		if err != nil {
			continue
		}
		byLE[le] += x.Value
	}
	sum, _ := s.Sum(name+"_sum", match)
	count, _ := s.Sum(name+"_count", match)
	h := PromHistogram{Sum: sum, Count: count}
	for le := range byLE {
		h.Bounds = append(h.Bounds, le)
	}
	sort.Float64s(h.Bounds)
	for _, le := range h.Bounds {
		h.Counts = append(h.Counts, byLE[le])
	}
	return h
}

// MarshalJSON writes the bounds as strings (+Inf is not a JSON number).
func (h PromHistogram) MarshalJSON() ([]byte, error) {
	le := make([]string, len(h.Bounds))
	for i, b := range h.Bounds {
		le[i] = strconv.FormatFloat(b, 'g', -1, 64)
	}
	return json.Marshal(struct {
		LE     []string  `json:"le"`
		Counts []float64 `json:"counts"`
		Sum    float64   `json:"sum"`
		Count  float64   `json:"count"`
	}{le, h.Counts, h.Sum, h.Count})
}

// Sub returns h minus an earlier reading of the same histogram.
func (h PromHistogram) Sub(earlier PromHistogram) PromHistogram {
	out := PromHistogram{Bounds: h.Bounds, Sum: h.Sum - earlier.Sum, Count: h.Count - earlier.Count}
	prev := map[float64]float64{}
	for i, le := range earlier.Bounds {
		prev[le] = earlier.Counts[i]
	}
	for i, le := range h.Bounds {
		out.Counts = append(out.Counts, h.Counts[i]-prev[le])
	}
	return out
}

// Quantile interpolates linearly within the bucket holding quantile q (the
// histogram_quantile() method); NaN when empty.
func (h PromHistogram) Quantile(q float64) float64 {
	if len(h.Counts) == 0 || h.Counts[len(h.Counts)-1] == 0 {
		return math.NaN()
	}
	total := h.Counts[len(h.Counts)-1]
	rank := q * total
	lower, prevCount := 0.0, 0.0
	for i, le := range h.Bounds {
		if h.Counts[i] >= rank {
			if math.IsInf(le, 1) {
				return lower
			}
			in := h.Counts[i] - prevCount
			if in <= 0 {
				return le
			}
			return lower + (le-lower)*(rank-prevCount)/in
		}
		lower, prevCount = le, h.Counts[i]
	}
	return lower
}

// FractionAtMost returns the share of observations ≤ bound (bound must be
// one of the bucket bounds to be exact).
func (h PromHistogram) FractionAtMost(bound float64) float64 {
	if len(h.Counts) == 0 || h.Counts[len(h.Counts)-1] == 0 {
		return math.NaN()
	}
	for i, le := range h.Bounds {
		if le >= bound {
			return h.Counts[i] / h.Counts[len(h.Counts)-1]
		}
	}
	return 1
}

// procStatus returns VmHWM and VmRSS in bytes from a /proc/<pid>/status file.
func procStatus(path string) (hwm, rss uint64) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmHWM" && k != "VmRSS") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		if k == "VmHWM" {
			hwm = n << 10
		} else {
			rss = n << 10
		}
	}
	return hwm, rss
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func cutEq(s string) (string, string, bool) { return strings.Cut(s, "=") }
