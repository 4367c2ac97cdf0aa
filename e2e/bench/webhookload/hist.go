package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram is a lock-free log-linear latency histogram: every power of two
// of nanoseconds is split into histSub equal buckets, so a bucket is at most
// 1/histSub (1.6%) wide relative to its lower bound, and a quantile read from
// a bucket's midpoint is within 0.8% of the true order statistic. It covers
// 1 ns to 2^33 ns (8.6 s) and counts anything longer in the last bucket.
type Histogram struct {
	counts [histExp * histSub]atomic.Uint64
	total  atomic.Uint64
	sumNS  atomic.Uint64
	maxNS  atomic.Uint64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits // buckets per power of two
	histExp     = 34 - histSubBits // rows of histSub buckets: the linear row, then one per power of two up to 2^33 ns
)

// bucketOf maps a duration in ns to its bucket index: values below histSub
// get one bucket each; above, the top histSubBits+1 bits select the bucket.
func bucketOf(ns uint64) int {
	if ns < histSub {
		return int(ns)
	}
	e := bits.Len64(ns) - histSubBits - 1 // shift that leaves histSubBits+1 significant bits
	i := (e+1)*histSub + int(ns>>uint(e)) - histSub
	if i >= histExp*histSub {
		return histExp*histSub - 1
	}
	return i
}

// bucketBounds returns the [lo, hi) range in ns of bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < histSub {
		return uint64(i), uint64(i) + 1
	}
	e := i/histSub - 1
	m := uint64(i%histSub + histSub)
	return m << uint(e), (m + 1) << uint(e)
}

// Record adds one observation.
func (h *Histogram) Record(d time.Duration) {
	ns := uint64(max(d, 0))
	h.counts[bucketOf(ns)].Add(1)
	h.total.Add(1)
	h.sumNS.Add(ns)
	for {
		m := h.maxNS.Load()
		if ns <= m || h.maxNS.CompareAndSwap(m, ns) {
			return
		}
	}
}

// Reset zeroes the histogram (not atomic with concurrent Records; callers
// reset between measurement windows).
func (h *Histogram) Reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.total.Store(0)
	h.sumNS.Store(0)
	h.maxNS.Store(0)
}

// Snapshot is a copy of a histogram's counts, mergeable and serialisable.
type Snapshot struct {
	// Counts maps bucket index to count (only non-empty buckets).
	Counts map[int]uint64 `json:"counts"`
	Total  uint64         `json:"total"`
	SumNS  uint64         `json:"sumNs"`
	MaxNS  uint64         `json:"maxNs"`
}

// Snapshot copies the current counts.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Counts: map[int]uint64{}, SumNS: h.sumNS.Load(), MaxNS: h.maxNS.Load()}
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			s.Counts[i] = c
			s.Total += c
		}
	}
	return s
}

// Merge adds o into s.
func (s *Snapshot) Merge(o Snapshot) {
	if s.Counts == nil {
		s.Counts = map[int]uint64{}
	}
	for i, c := range o.Counts {
		s.Counts[i] += c
	}
	s.Total += o.Total
	s.SumNS += o.SumNS
	s.MaxNS = max(s.MaxNS, o.MaxNS)
}

// Quantile returns the q-quantile (0 < q ≤ 1) as the midpoint of the bucket
// holding the ceil(q·N)-th smallest observation; 0 when empty.
func (s Snapshot) Quantile(q float64) time.Duration {
	if s.Total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.Total)))
	rank = min(max(rank, 1), s.Total)
	var seen uint64
	for i := 0; i < histExp*histSub; i++ {
		seen += s.Counts[i]
		if seen >= rank {
			lo, hi := bucketBounds(i)
			mid := (lo + hi) / 2
			if s.MaxNS > 0 && mid > s.MaxNS {
				mid = s.MaxNS
			}
			return time.Duration(mid)
		}
	}
	return time.Duration(s.MaxNS)
}

// Mean of the observations; 0 when empty.
func (s Snapshot) Mean() time.Duration {
	if s.Total == 0 {
		return 0
	}
	return time.Duration(s.SumNS / s.Total)
}

// FractionAbove returns the share of observations in buckets entirely above d.
func (s Snapshot) FractionAbove(d time.Duration) float64 {
	if s.Total == 0 {
		return 0
	}
	var n uint64
	for i, c := range s.Counts {
		if lo, _ := bucketBounds(i); lo > uint64(d) {
			n += c
		}
	}
	return float64(n) / float64(s.Total)
}

// Sub returns s minus an earlier snapshot of the same histogram: the
// observations recorded in between (the maximum is not known for them and
// is left 0).
func (s Snapshot) Sub(earlier Snapshot) Snapshot {
	out := Snapshot{Counts: map[int]uint64{}, SumNS: s.SumNS - earlier.SumNS}
	for i, c := range s.Counts {
		if d := c - earlier.Counts[i]; d > 0 && c >= earlier.Counts[i] {
			out.Counts[i] = d
			out.Total += d
		}
	}
	return out
}
