package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Samples are the samples of a Prometheus text exposition, by metric name.
type Samples map[string][]Sample

// Sample is one series' labels and value.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// parseText reads the Prometheus text format (enough of it for client_golang
// output and noopwebhook's: no timestamps needed, comments skipped).
func parseText(r io.Reader) (Samples, error) {
	out := Samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, rest := line, map[string]string{}, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndex(rest, "}")
			if end < 0 {
				return nil, fmt.Errorf("bad sample line %q", line)
			}
			var err error
			if labels, err = parseLabelSet(rest[1:end]); err != nil {
				return nil, fmt.Errorf("%w in %q", err, line)
			}
			rest = rest[end+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("value in %q: %w", line, err)
		}
		out[name] = append(out[name], Sample{Labels: labels, Value: v})
	}
	return out, sc.Err()
}

func parseLabelSet(s string) (map[string]string, error) {
	out := map[string]string{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, ", ")
		if s == "" {
			break
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 || len(s) < eq+2 || s[eq+1] != '"' {
			return nil, fmt.Errorf("bad label set")
		}
		key := s[:eq]
		s = s[eq+2:]
		var b strings.Builder
		i := 0
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				default:
					b.WriteByte(s[i])
				}
				continue
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, fmt.Errorf("unterminated label value")
		}
		out[key] = b.String()
		s = s[i+1:]
	}
	return out, nil
}

// Sum adds the values of every series of name whose labels include match.
func (s Samples) Sum(name string, match map[string]string) float64 {
	var sum float64
	for _, x := range s[name] {
		if labelsMatch(x.Labels, match) {
			sum += x.Value
		}
	}
	return sum
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// PromHistogram is a Prometheus histogram: cumulative counts by upper bound.
type PromHistogram struct {
	Bounds []float64 // sorted, +Inf last
	Counts []float64 // cumulative
	Sum    float64
	Count  float64
}

// Histogram reads histogram family name (series matching match summed).
func (s Samples) Histogram(name string, match map[string]string) PromHistogram {
	byLE := map[float64]float64{}
	for _, x := range s[name+"_bucket"] {
		if !labelsMatch(x.Labels, match) {
			continue
		}
		le, err := strconv.ParseFloat(x.Labels["le"], 64)
		if err != nil {
			continue
		}
		byLE[le] += x.Value
	}
	h := PromHistogram{Sum: s.Sum(name+"_sum", match), Count: s.Sum(name+"_count", match)}
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
