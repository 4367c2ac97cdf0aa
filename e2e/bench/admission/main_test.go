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
	if v, ok := sumMetric(text, "process_cpu_seconds_total", ""); !ok || v != 12.5 {
		t.Errorf("cpu %v %v", v, ok)
	}
	if v, _ := sumMetric(text, "hdscale_webhook_admission_duration_seconds_sum", `webhook="/mutate"`); v != 0.5 {
		t.Errorf("sum %v", v)
	}
	if _, ok := sumMetric(text, "absent", ""); ok {
		t.Error("absent found")
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
}
