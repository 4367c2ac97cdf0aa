package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestRotate(t *testing.T) {
	t.Parallel()
	vs := []string{"none", "map", "noop", "hdscale"}
	if got := rotate(vs, 1); !reflect.DeepEqual(got, []string{"map", "noop", "hdscale", "none"}) {
		t.Errorf("rotate 1 = %v", got)
	}
	if got := rotate(vs, 4); !reflect.DeepEqual(got, vs) {
		t.Errorf("rotate 4 = %v", got)
	}
}

func TestQuantileNearestRank(t *testing.T) {
	t.Parallel()
	xs := make([]float64, 100)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	for q, want := range map[float64]float64{0.5: 50, 0.9: 90, 0.99: 99, 1: 100} {
		if got := quantile(xs, q); got != want {
			t.Errorf("q%v = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("empty")
	}
}

func TestSumMetric(t *testing.T) {
	t.Parallel()
	text := []byte(`# HELP process_cpu_seconds_total x
process_cpu_seconds_total 12.5
process_cpu_seconds_total_other 3
hdscale_webhook_admission_duration_seconds_sum{webhook="/mutate"} 0.5
hdscale_webhook_admission_duration_seconds_sum{webhook="/validate-namespace"} 9
`)
	if v, ok, err := sumMetric(text, "process_cpu_seconds_total", nil); err != nil || !ok || v != 12.5 {
		t.Errorf("cpu %v %v %v", v, ok, err)
	}
	if v, _, err := sumMetric(text, "hdscale_webhook_admission_duration_seconds_sum", map[string]string{"webhook": "/mutate"}); err != nil || v != 0.5 {
		t.Errorf("sum %v %v", v, err)
	}
	if _, ok, err := sumMetric(text, "absent", nil); err != nil || ok {
		t.Errorf("absent found (%v)", err)
	}
	if _, _, err := sumMetric([]byte("broken{a=\"b\" 1\n"), "broken", nil); err == nil {
		t.Error("a malformed exposition parsed")
	}
}

func TestEffectOf(t *testing.T) {
	t.Parallel()
	p := &corev1.Pod{Spec: corev1.PodSpec{
		SchedulerName: "hdscale-scheduler",
		NodeSelector:  map[string]string{"hdscale.io/pool": "runtime"},
		Tolerations:   []corev1.Toleration{{Key: "hdscale.io/pool", Value: "runtime"}},
		Containers: []corev1.Container{{Name: "rt", Image: "hetida/designer-runtime:0.9",
			Env: []corev1.EnvVar{{Name: "WEB_CONCURRENCY", Value: "1"}, {Name: "MAX_WORKERS", Value: "1"}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}},
	}}
	e := effectOf("map", p, 0)
	if !e.Toleration || !e.NodeSelector || e.CPU != "1/1" || e.Env != "WEB_CONCURRENCY=1 MAX_WORKERS=1" || e.Annotation {
		t.Errorf("effect %+v", e)
	}
}

func TestReportTargets(t *testing.T) {
	t.Parallel()
	var rs []Round
	for round := 1; round <= 3; round++ {
		for v, p50 := range map[string]float64{"none": 2, "map": 3, "noop": 4, "hdscale": 4.1} {
			rs = append(rs, Round{Round: round, Variant: v, Concurrency: 1, P50: p50, P90: p50, P99: p50, Throughput: 100 / p50, Requests: 10})
		}
	}
	o := options{variants: []string{"none", "map", "noop", "hdscale"}, concurrency: []int{1}, rounds: 3}
	var b bytes.Buffer
	writeReport(&b, Results{Rounds: rs}, o)
	out := b.String()
	for _, want := range []string{"+2.10 ms vs +2.00 ms = 1.05×", "target ≤ 1.1×: met", "throughput 0.976×", "target ≥ 0.95×: met"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	for _, absent := range []string{"(e)", "patching no-op"} {
		if strings.Contains(out, absent) {
			t.Errorf("report without noop-patch mentions %q:\n%s", absent, out)
		}
	}
}

func TestReportPatchingNoop(t *testing.T) {
	t.Parallel()
	var rs []Round
	for _, c := range []int{1, 16} {
		for round := 1; round <= 3; round++ {
			// Rounds differ (each variant alike), so per-round medians matter.
			d := float64(round-2) * 0.5
			for v, x := range map[string]struct{ p50, cpu float64 }{
				"none": {2, 1e-3}, "map": {3, 2e-3}, "noop": {4, 3e-3}, "noop-patch": {5, 4.5e-3}, "hdscale": {6, 6e-3},
			} {
				p50 := x.p50 + d
				rs = append(rs, Round{Round: round, Variant: v, Concurrency: c, P50: p50, P90: p50, P99: p50 + 1,
					Throughput: 100 / p50, Requests: 10, APIServerCPUPerReq: x.cpu})
			}
		}
	}
	o := options{variants: []string{"none", "map", "noop", "hdscale", "noop-patch"}, concurrency: []int{1, 16}, rounds: 3}
	var b bytes.Buffer
	writeReport(&b, Results{Rounds: rs, Effects: []Effect{{Variant: "noop-patch", NoopAnnotation: true}}}, o)
	out := b.String()
	for _, want := range []string{
		// The plain no-op line is unchanged: +4 vs +2.
		"hdscale vs the no-op webhook at concurrency 1: added p50 +4.00 ms vs +2.00 ms = 2.00× (median of per-round ratios 2.00×, range 2.00–2.00; target ≤ 1.1×: missed); throughput 0.667×",
		// Against the patching one: +4 vs +3, throughput 5/6 (median round).
		"hdscale vs a patching no-op webhook at concurrency 1: added p50 +4.00 ms vs +3.00 ms = 1.33× (median of per-round ratios 1.33×, range 1.33–1.33); throughput 0.833× (per-round range 0.818–0.846); apiserver CPU/req +1500 µs over (e).",
		"hdscale vs a patching no-op webhook at concurrency 16:",
		"The API server's cost of accepting a patch at concurrency 1, (e) − (c): p50 +1.00 ms, p99 +1.00 ms, throughput 0.800×, apiserver CPU/req +1500 µs",
		"The API server's cost of accepting a patch at concurrency 16",
		"is the API server's own cost of accepting a patch",
		"| (e) no-op webhook + 1-op patch | 5.00 ms |",
		"| (e) no-op webhook + 1-op patch |  | no | no |  |  | no | yes | 0 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// (e) comes after (d) in the tables, as in -variants.
	if i, j := strings.Index(out, "| (d) hdscale webhook | 6.00"), strings.Index(out, "| (e) no-op webhook + 1-op patch | 5.00"); i < 0 || j < i {
		t.Errorf("table order:\n%s", out)
	}
}

func TestParseOptionsVariants(t *testing.T) {
	t.Parallel()
	noop := []string{"-noop-image", "img", "-noop-tls-dir", "dir"}
	o, err := parseOptions(noop)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"none", "map", "noop", "hdscale", "noop-patch", "kyverno", "gatekeeper"}; !reflect.DeepEqual(o.variants, want) {
		t.Errorf("default variants %v, want %v", o.variants, want)
	}
	for _, v := range o.variants {
		if variantNamespaces[v] == "" || variantTitles[v] == "" {
			t.Errorf("variant %s lacks a namespace or title", v)
		}
	}
	if got := rotate(o.variants, 2); !reflect.DeepEqual(got, []string{"noop", "hdscale", "noop-patch", "kyverno", "gatekeeper", "none", "map"}) {
		t.Errorf("rotate 2 = %v", got)
	}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{nil, "variant noop needs -noop-image"},
		{[]string{"-variants", "none,noop-patch"}, "variant noop-patch needs -noop-image and -noop-tls-dir"},
		{[]string{"-variants", "none,noop-patch", "-noop-image", "img"}, "variant noop-patch needs"},
		{[]string{"-variants", "none,noop-patch", "-teardown"}, ""},
		{append([]string{"-variants", "none,noop-patch"}, noop...), ""},
		{[]string{"-variants", "none,map,hdscale"}, ""},
		{[]string{"-variants", "none,noop-pach"}, `unknown variant "noop-pach"`},
		{[]string{"-variants", "noop-patch,none"}, `must start with "none"`},
	} {
		_, err := parseOptions(tc.args)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: err %v, want %q", tc.args, err, tc.wantErr)
		}
	}
}

func TestAsExpected(t *testing.T) {
	t.Parallel()
	plain := &corev1.Pod{}
	patched := &corev1.Pod{}
	patched.Annotations = map[string]string{noopPatchAnnotation: "1"}
	placed := &corev1.Pod{Spec: corev1.PodSpec{SchedulerName: "hdscale-scheduler"}}
	for _, tc := range []struct {
		v    string
		pod  *corev1.Pod
		want bool
	}{
		{"none", plain, true}, {"noop", plain, true}, {"noop-patch", plain, false},
		{"noop-patch", patched, true}, {"noop", patched, false}, {"hdscale", placed, true}, {"hdscale", plain, false},
		{"kyverno", placed, true}, {"kyverno", plain, false}, {"gatekeeper", placed, true}, {"gatekeeper", plain, false},
	} {
		if got := asExpected(tc.v, tc.pod); got != tc.want {
			t.Errorf("asExpected(%s, %v/%v) = %v", tc.v, tc.pod.Spec.SchedulerName, tc.pod.Annotations, got)
		}
	}
}
