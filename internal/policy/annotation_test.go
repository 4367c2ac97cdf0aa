package policy

import (
	"reflect"
	"strings"
	"testing"
)

func TestAnnotationRoundTrip(t *testing.T) {
	t.Parallel()
	ns := Namespace{Pattern: PerCore, Pool: "runtime", Mode: ModeEnforce, Conflict: ConflictFill, LabelsHash: "abc"}
	s := Size(ns, Budget{NodeCPUMilli: 4000, Containers: 1, Source: SizedFromPool})
	a := NewAnnotation(ns, s, []string{"runtime"}, "hdscale-scheduler")
	got, pl, err := ParseAnnotation(a.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Errorf("round trip: got %+v, want %+v", got, a)
	}
	want := Placement{Pattern: PerCore, Pool: "runtime", CPURequestMilli: 1000, CPULimitMilli: 1000}
	if pl != want {
		t.Errorf("placement = %+v, want %+v", pl, want)
	}
	if a.CPURequest != "1" || a.NodeCPU != "4" || a.PodCPU != "1" || a.PerNode != 4 {
		t.Errorf("quantities not canonical: %+v", a)
	}
}

func TestUnsizedAnnotation(t *testing.T) {
	t.Parallel()
	ns := Namespace{Pattern: PerNode, Pool: "runtime", Mode: ModeEnforce, Conflict: ConflictFill, WorkersPerCore: 1}
	s := Size(ns, Budget{Containers: 1})
	if s.Sized() || s.Source != Unsized {
		t.Fatalf("no node shape: sizing %+v, want unsized", s)
	}
	a := NewAnnotation(ns, s, []string{"runtime"}, "hdscale-scheduler")
	if a.CPURequest != "" || a.NodeCPU != "" || a.PodCPU != "" || a.Workers != 0 {
		t.Errorf("unsized annotation carries sizes: %+v", a)
	}
	_, pl, err := ParseAnnotation(a.Encode())
	if err != nil {
		t.Fatalf("an unsized annotation must parse: %v", err)
	}
	if want := (Placement{Pattern: PerNode, Pool: "runtime"}); pl != want {
		t.Errorf("placement = %+v, want %+v", pl, want)
	}
	if pl.EstimateMilli() != 0 {
		t.Errorf("unsized estimate = %d, want 0", pl.EstimateMilli())
	}
}

func TestParseAnnotationErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"not json":    "{",
		"bad pattern": `{"pattern":"x","pool":"runtime","cpuRequest":"1","cpuLimit":"1"}`,
		"no pool":     `{"pattern":"per-core","cpuRequest":"1","cpuLimit":"1"}`,
		"bad request": `{"pattern":"per-core","pool":"runtime","cpuRequest":"a","cpuLimit":"1"}`,
		"zero limit":  `{"pattern":"per-core","pool":"runtime","cpuRequest":"1","cpuLimit":"0"}`,
		// MilliValue wraps around beyond int64 millis; these used to be
		// accepted as arbitrary (positive) CPU amounts.
		"huge request":       `{"pattern":"per-core","pool":"runtime","cpuRequest":"99999999999999999999","cpuLimit":"1"}`,
		"huge milli limit":   `{"pattern":"per-core","pool":"runtime","cpuRequest":"1","cpuLimit":"100000000000000000000m"}`,
		"above 1024 cores":   `{"pattern":"per-core","pool":"runtime","cpuRequest":"1025","cpuLimit":"1025"}`,
		"exponent overflows": `{"pattern":"per-core","pool":"runtime","cpuRequest":"1e18","cpuLimit":"1"}`,
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, _, err := ParseAnnotation(v)
			if err == nil || !strings.Contains(err.Error(), AnnotationPolicy) {
				t.Fatalf("err = %v, want an error naming %s", err, AnnotationPolicy)
			}
		})
	}
}

func FuzzParseAnnotation(f *testing.F) {
	f.Add(`{"pattern":"per-core","pool":"runtime","cpuRequest":"1","cpuLimit":"1"}`)
	f.Add(`{"pattern":"per-node","pool":"r","cpuRequest":"3800m","cpuLimit":"4"}`)
	f.Add(`{"pattern":"per-core","pool":"r","cpuRequest":"99999999999999999999","cpuLimit":"1"}`)
	f.Fuzz(func(t *testing.T, v string) {
		_, pl, err := ParseAnnotation(v)
		if err == nil && (pl.CPURequestMilli <= 0 || pl.CPULimitMilli <= 0 || pl.CPURequestMilli > maxCPUMilli ||
			pl.CPULimitMilli > maxCPUMilli || !pl.Pattern.Valid() || pl.Pool == "") {
			t.Fatalf("accepted invalid placement %+v from %q", pl, v)
		}
	})
}
