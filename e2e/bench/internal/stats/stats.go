// Package stats is the arithmetic the benchmark reports use: medians,
// quantiles and Prometheus histograms read from the text exposition format.
package stats

import (
	"math"
	"sort"
)

// Median of xs (the mean of the two middle values for an even count); NaN
// for none.
func Median(xs []float64) float64 { return Quantile(xs, 0.5) }

// Quantile of xs with linear interpolation between order statistics
// (q in [0,1]); NaN for none.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	q = math.Min(math.Max(q, 0), 1)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// MinMax returns the smallest and largest of xs (NaN, NaN for none).
func MinMax(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	lo, hi = xs[0], xs[0]
	for _, x := range xs[1:] {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}
