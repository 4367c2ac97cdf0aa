package pool

import "testing"

func TestShapeString(t *testing.T) {
	t.Parallel()
	if got := (Shape{CPUMilli: 3500, MemBytes: 16 * gi}).String() + " | " + (Shape{CPUMilli: 2000, MemBytes: 24683664 << 10}).String(); got != "3500m CPU, 16Gi | 2 CPU, 23.5Gi" {
		t.Errorf("String() = %q", got)
	}
}

func TestShapeWithin(t *testing.T) {
	t.Parallel()
	ref := Shape{CPUMilli: 4000, MemBytes: 16 * gi}
	tests := []struct {
		name string
		s    Shape
		tol  float64
		want bool
	}{
		{"equal", ref, 0, true},
		{"cpu at bound", Shape{4200, 16 * gi}, 0.05, true},
		{"cpu just over", Shape{4201, 16 * gi}, 0.05, false},
		{"cpu below bound", Shape{3800, 16 * gi}, 0.05, true},
		{"cpu just under", Shape{3799, 16 * gi}, 0.05, false},
		{"memory few MiB less", Shape{4000, 16*gi - 300<<20}, 0.05, true},
		{"memory half", Shape{4000, 8 * gi}, 0.05, false},
		{"zero tolerance differs", Shape{4001, 16 * gi}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.s.Within(ref, tt.tol); got != tt.want {
				t.Errorf("%+v.Within(%+v, %v) = %v, want %v", tt.s, ref, tt.tol, got, tt.want)
			}
		})
	}
}

func TestReferenceShape(t *testing.T) {
	t.Parallel()
	s4 := Shape{4000, 16 * gi}
	s8 := Shape{8000, 32 * gi}
	s2 := Shape{2000, 8 * gi}
	rep := func(s Shape, n int) []Shape {
		out := make([]Shape, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	cat := func(ss ...[]Shape) []Shape {
		var out []Shape
		for _, s := range ss {
			out = append(out, s...)
		}
		return out
	}
	// Memory differing by a few MiB on every node (kubelet reservations).
	var jitter []Shape
	for i := range 10 {
		jitter = append(jitter, Shape{4000, 16*gi - int64(i)<<20})
	}
	tests := []struct {
		name        string
		shapes      []Shape
		tol         float64
		want        Shape
		wantMembers int
		wantOK      bool
	}{
		{"none", nil, 0.05, Shape{}, 0, false},
		{"one shape", rep(s4, 3), 0.05, s4, 3, true},
		{"most common", cat(rep(s4, 3), rep(s8, 2)), 0.05, s4, 3, true},
		{"most common regardless of order", cat(rep(s8, 2), rep(s4, 3)), 0.05, s4, 3, true},
		{"tie takes the smallest", cat(rep(s8, 2), rep(s4, 2)), 0.05, s4, 2, true},
		{"jittered memory stays one pool", cat(jitter, []Shape{s2}), 0.05, Shape{4000, 16*gi - 9<<20}, 10, true},
		{"jitter without tolerance: smallest single", jitter, 0, Shape{4000, 16*gi - 9<<20}, 1, true},
		{"outlier small node is not the reference", cat([]Shape{s2}, jitter[:3]), 0.05, Shape{4000, 16*gi - 2<<20}, 3, true},
		{"exact count breaks a tolerance tie", cat(rep(Shape{4000, 16 * gi}, 1), rep(Shape{4100, 16 * gi}, 2)), 0.05, Shape{4100, 16 * gi}, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, members, ok := ReferenceShape(tt.shapes, tt.tol)
			if got != tt.want || members != tt.wantMembers || ok != tt.wantOK {
				t.Errorf("ReferenceShape = %+v, %d, %v; want %+v, %d, %v", got, members, ok, tt.want, tt.wantMembers, tt.wantOK)
			}
		})
	}
}

func BenchmarkReferenceShape5000Jittered(b *testing.B) {
	shapes := make([]Shape, 5000)
	for i := range shapes {
		shapes[i] = Shape{4000, 16*gi - int64(i)<<16}
	}
	b.ReportAllocs()
	for b.Loop() {
		ReferenceShape(shapes, 0.05)
	}
}
