package stats

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Histogram is one Prometheus histogram series: cumulative bucket counts by
// upper bound, plus sum and count.
type Histogram struct {
	Buckets map[float64]float64 // le -> cumulative count
	Sum     float64
	Count   float64
}

// ParseHistogram reads the text exposition format and returns the sum of
// every series of histogram family name whose labels include all of match
// (le excluded). Series that do not match are ignored.
func ParseHistogram(r io.Reader, name string, match map[string]string) (Histogram, error) {
	h := Histogram{Buckets: map[float64]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, name+"_") {
			continue
		}
		metric, labels, value, err := parseSample(line)
		if err != nil {
			return h, err
		}
		if !matches(labels, match) {
			continue
		}
		switch metric {
		case name + "_bucket":
			le, err := strconv.ParseFloat(labels["le"], 64)
			if err != nil {
				return h, fmt.Errorf("bucket le %q: %w", labels["le"], err)
			}
			h.Buckets[le] += value
		case name + "_sum":
			h.Sum += value
		case name + "_count":
			h.Count += value
		}
	}
	return h, sc.Err()
}

func matches(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// parseSample splits `name{a="x",b="y"} value [timestamp]`.
func parseSample(line string) (name string, labels map[string]string, value float64, err error) {
	labels = map[string]string{}
	rest := line
	if i := strings.IndexByte(line, '{'); i >= 0 {
		name = line[:i]
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return "", nil, 0, fmt.Errorf("bad sample %q", line)
		}
		if err := parseLabels(line[i+1:j], labels); err != nil {
			return "", nil, 0, fmt.Errorf("sample %q: %w", line, err)
		}
		rest = line[j+1:]
	} else {
		sp := strings.IndexByte(line, ' ')
		if sp < 0 {
			return "", nil, 0, fmt.Errorf("bad sample %q", line)
		}
		name, rest = line[:sp], line[sp:]
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", nil, 0, fmt.Errorf("sample %q has no value", line)
	}
	value, err = strconv.ParseFloat(f[0], 64)
	if err != nil {
		return "", nil, 0, fmt.Errorf("sample %q: %w", line, err)
	}
	return name, labels, value, nil
}

func parseLabels(s string, into map[string]string) error {
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return fmt.Errorf("bad labels %q", s)
		}
		key := strings.TrimSpace(s[:eq])
		var b strings.Builder
		i := eq + 2
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
			return fmt.Errorf("unterminated label value in %q", s)
		}
		into[key] = b.String()
		s = strings.TrimLeft(s[i+1:], ", ")
	}
	return nil
}

// Sub returns h minus earlier (the observations made in between).
func (h Histogram) Sub(earlier Histogram) Histogram {
	d := Histogram{Buckets: map[float64]float64{}, Sum: h.Sum - earlier.Sum, Count: h.Count - earlier.Count}
	for le, c := range h.Buckets {
		d.Buckets[le] = c - earlier.Buckets[le]
	}
	return d
}

// Mean of the observations; NaN if there are none.
func (h Histogram) Mean() float64 {
	if h.Count <= 0 {
		return math.NaN()
	}
	return h.Sum / h.Count
}

// Quantile estimates the q-quantile as Prometheus' histogram_quantile does:
// linear interpolation inside the bucket that holds it; NaN if empty. A
// quantile in the +Inf bucket returns the largest finite bound.
func (h Histogram) Quantile(q float64) float64 {
	les := make([]float64, 0, len(h.Buckets))
	for le := range h.Buckets {
		les = append(les, le)
	}
	sort.Float64s(les)
	if len(les) == 0 {
		return math.NaN()
	}
	total := h.Buckets[les[len(les)-1]]
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	prevLE, prevCount := 0.0, 0.0
	for _, le := range les {
		c := h.Buckets[le]
		if c >= rank {
			if math.IsInf(le, 1) {
				return prevLE
			}
			if c == prevCount {
				return le
			}
			return prevLE + (le-prevLE)*(rank-prevCount)/(c-prevCount)
		}
		prevLE, prevCount = le, c
	}
	return prevLE
}
