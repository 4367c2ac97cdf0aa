package stats

import (
	"math"
	"strings"
	"testing"
)

func TestQuantile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		xs   []float64
		q    float64
		want float64
	}{
		{"median odd", []float64{3, 1, 2}, 0.5, 2},
		{"median even", []float64{4, 1, 3, 2}, 0.5, 2.5},
		{"min", []float64{5, 7}, 0, 5},
		{"max", []float64{5, 7}, 1, 7},
		{"single", []float64{9}, 0.99, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Quantile(tt.xs, tt.q); got != tt.want {
				t.Fatalf("Quantile(%v, %v) = %v, want %v", tt.xs, tt.q, got, tt.want)
			}
		})
	}
	if !math.IsNaN(Median(nil)) {
		t.Fatal("Median(nil) must be NaN")
	}
}

const exposition = `# HELP lat x
# TYPE lat histogram
lat_bucket{profile="a",result="scheduled",le="0.001"} 1
lat_bucket{profile="a",result="scheduled",le="0.01"} 3
lat_bucket{profile="a",result="scheduled",le="+Inf"} 4
lat_sum{profile="a",result="scheduled"} 0.5
lat_count{profile="a",result="scheduled"} 4
lat_bucket{profile="b",result="scheduled",le="0.001"} 100
lat_bucket{profile="b",result="scheduled",le="0.01"} 100
lat_bucket{profile="b",result="scheduled",le="+Inf"} 100
lat_sum{profile="b",result="scheduled"} 0.01
lat_count{profile="b",result="scheduled"} 100
latency_other 7
`

func TestParseHistogram(t *testing.T) {
	t.Parallel()
	h, err := ParseHistogram(strings.NewReader(exposition), "lat", map[string]string{"profile": "a"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Count != 4 || h.Sum != 0.5 || h.Buckets[0.01] != 3 || h.Buckets[math.Inf(1)] != 4 {
		t.Fatalf("parsed %+v", h)
	}
	if got := h.Mean(); got != 0.125 {
		t.Fatalf("mean = %v", got)
	}
	// rank 2 of 4 lies halfway between the 1st and 3rd observation's bucket bounds.
	if got := h.Quantile(0.5); math.Abs(got-0.0055) > 1e-12 {
		t.Fatalf("p50 = %v", got)
	}
	// rank 3.96 is in the +Inf bucket: the largest finite bound.
	if got := h.Quantile(0.99); got != 0.01 {
		t.Fatalf("p99 = %v", got)
	}
	d := h.Sub(Histogram{Buckets: map[float64]float64{0.001: 1, 0.01: 1, math.Inf(1): 1}, Sum: 0.1, Count: 1})
	if d.Count != 3 || d.Buckets[0.001] != 0 || d.Buckets[0.01] != 2 {
		t.Fatalf("diff %+v", d)
	}
}

func TestParseHistogramRejectsGarbage(t *testing.T) {
	t.Parallel()
	if _, err := ParseHistogram(strings.NewReader(`lat_bucket{le="x"} 1`), "lat", nil); err == nil {
		t.Fatal("want error for a non-numeric le")
	}
	if _, err := ParseHistogram(strings.NewReader(`lat_count{a="b" 1`), "lat", nil); err == nil {
		t.Fatal("want error for unterminated labels")
	}
}
