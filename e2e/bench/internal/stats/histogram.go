package stats

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
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
	s, err := ParseText(r)
	if err != nil {
		return h, err
	}
	for _, b := range s[name+"_bucket"] {
		if !Matches(b.Labels, match) {
			continue
		}
		le, err := strconv.ParseFloat(b.Labels["le"], 64)
		if err != nil {
			return h, fmt.Errorf("bucket le %q: %w", b.Labels["le"], err)
		}
		h.Buckets[le] += b.Value
	}
	h.Sum, _ = s.Sum(name+"_sum", match)
	h.Count, _ = s.Sum(name+"_count", match)
	return h, nil
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
