package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func runtimePod() *corev1.Pod {
	p := &corev1.Pod{}
	p.Annotations = map[string]string{"hdscale.io/policy": `{"pattern":"per-core"}`}
	p.Spec = corev1.PodSpec{
		SchedulerName: "hdscale-scheduler",
		NodeSelector:  map[string]string{"kubernetes.io/os": "linux", "hdscale.io/pool": "runtime"},
		Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "hetida", Effect: corev1.TaintEffectNoSchedule},
			{Key: "hdscale.io/pool", Operator: corev1.TolerationOpEqual, Value: "runtime", Effect: corev1.TaintEffectNoSchedule}},
		InitContainers: []corev1.Container{{Name: "wait"}},
		Containers: []corev1.Container{{Name: "rt", Image: "hetida/designer-runtime:0.9",
			Env: []corev1.EnvVar{{Name: "WEB_CONCURRENCY", Value: "2"}, {Name: "MAX_WORKERS", Value: "2"}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}},
			{Name: "log-shipper"}},
	}
	return p
}

func TestMutationDiff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(p *corev1.Pod)
		want   string // substring of the diff; "" = no difference
	}{
		{"same", func(*corev1.Pod) {}, ""},
		{"env order does not count", func(p *corev1.Pod) {
			e := p.Spec.Containers[0].Env
			e[0], e[1] = e[1], e[0]
		}, ""},
		{"toleration order does not count", func(p *corev1.Pod) {
			ts := p.Spec.Tolerations
			ts[0], ts[1] = ts[1], ts[0]
		}, ""},
		{"equal quantities", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("0.5")
		}, ""},
		{"scheduler", func(p *corev1.Pod) { p.Spec.SchedulerName = "default-scheduler" }, "schedulerName: hdscale hdscale-scheduler, got default-scheduler"},
		{"no pool toleration", func(p *corev1.Pod) { p.Spec.Tolerations = p.Spec.Tolerations[:1] }, "tolerations:"},
		{"no pool selector", func(p *corev1.Pod) { delete(p.Spec.NodeSelector, "hdscale.io/pool") }, "nodeSelector:"},
		{"annotation", func(p *corev1.Pod) { p.Annotations = nil }, "hdscale.io/ annotations"},
		{"env missing", func(p *corev1.Pod) { p.Spec.Containers[0].Env = p.Spec.Containers[0].Env[:1] }, "container rt env"},
		{"env on the wrong container", func(p *corev1.Pod) {
			p.Spec.Containers[1].Env = []corev1.EnvVar{{Name: "MAX_WORKERS", Value: "2"}}
		}, "container log-shipper env"},
		{"cpu", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU] = resource.MustParse("1")
		}, "container rt resources"},
		{"init container", func(p *corev1.Pod) {
			p.Spec.InitContainers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		}, "container init/wait resources"},
		{"extra container", func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "x"}) }, "containers: hdscale 3, got 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := runtimePod()
			tc.change(got)
			d := strings.Join(mutationDiff(runtimePod(), got), "; ")
			if tc.want == "" && d != "" || tc.want != "" && !strings.Contains(d, tc.want) {
				t.Errorf("diff %q, want %q", d, tc.want)
			}
		})
	}
}

func TestKyvernoPolicy(t *testing.T) {
	t.Parallel()
	w := webhookSettings{failurePolicy: "Fail", timeoutSeconds: 5,
		matchConditions: []admissionregistrationv1.MatchCondition{{Name: "runtime-candidate", Expression: "true"}}}
	p := kyvernoPolicy("hdscale-bench-kyverno", w, sizing{cpu: "1", workers: "1", annotations: map[string]string{"hdscale.io/policy": "{}"}})
	b, err := json.Marshal(p.Object)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`"kind":"ClusterPolicy"`, `"failurePolicy":"Fail"`, `"timeoutSeconds":5`, `"name":"runtime-candidate"`,
		`"namespaces":["hdscale-bench-kyverno"]`, `"list":"request.object.spec.containers"`, `"cpu":"1"`,
		`length(element.env[?name=='MAX_WORKERS'] || ` + "`[]`" + `)`, `"WEB_CONCURRENCY"`, `"MAX_WORKERS"`, `"+(hdscale.io/pool)":"runtime"`, `"hdscale.io/policy":`,
		`\"value\":\"hdscale-scheduler\"`, `"background":false`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("policy lacks %s:\n%s", want, s)
		}
	}
}

func TestGatekeeperMutators(t *testing.T) {
	t.Parallel()
	ms := gatekeeperMutators("hdscale-bench-gatekeeper", sizing{cpu: "1", workers: "1", containers: []string{"hetida-runtime"},
		annotations: map[string]string{"hdscale.io/policy": "{}", "hdscale.io/conflicts": "{}"}})
	names := map[string]string{}
	for _, m := range ms {
		loc, _, _ := unstructuredString(m.Object, "spec", "location")
		names[m.GetName()] = loc
		ns, _ := json.Marshal(m.Object["spec"].(map[string]any)["match"])
		if !strings.Contains(string(ns), `"namespaces":["hdscale-bench-gatekeeper"]`) {
			t.Errorf("%s matches %s", m.GetName(), ns)
		}
	}
	for name, loc := range map[string]string{
		"hdscale-bench-pool-toleration":                `spec.tolerations[key: "hdscale.io/pool"]`,
		"hdscale-bench-pool-node-selector":             `spec.nodeSelector."hdscale.io/pool"`,
		"hdscale-bench-scheduler":                      "spec.schedulerName",
		"hdscale-bench-hetida-runtime-cpu-request":     `spec.containers[name: "hetida-runtime"].resources.requests.cpu`,
		"hdscale-bench-hetida-runtime-cpu-limit":       `spec.containers[name: "hetida-runtime"].resources.limits.cpu`,
		"hdscale-bench-hetida-runtime-web-concurrency": `spec.containers[name: "hetida-runtime"].env[name: WEB_CONCURRENCY]`,
		"hdscale-bench-hetida-runtime-max-workers":     `spec.containers[name: "hetida-runtime"].env[name: MAX_WORKERS]`,
		"hdscale-bench-annotation-policy":              `metadata.annotations."hdscale.io/policy"`,
		"hdscale-bench-annotation-conflicts":           `metadata.annotations."hdscale.io/conflicts"`,
	} {
		if names[name] != loc {
			t.Errorf("mutator %s at %q, want %q", name, names[name], loc)
		}
	}
	if len(ms) != 9 {
		t.Errorf("%d mutators, want 9", len(ms))
	}
}

func unstructuredString(obj map[string]any, fields ...string) (string, bool, error) {
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false, nil
		}
		cur = m[f]
	}
	s, ok := cur.(string)
	return s, ok, nil
}

func TestReportVsEngines(t *testing.T) {
	t.Parallel()
	var rs []Round
	for round := 1; round <= 3; round++ {
		for v, x := range map[string]struct{ p50, cpu float64 }{
			"none": {2, 0}, "hdscale": {4, 2e-3}, "kyverno": {10, 8e-3}, "gatekeeper": {5, 1e-3},
		} {
			rs = append(rs, Round{Round: round, Variant: v, Concurrency: 1, P50: x.p50, P90: x.p50, P99: x.p50,
				Throughput: 100 / x.p50, Requests: 10, WebhookCPUPerReq: x.cpu})
		}
	}
	o := options{variants: []string{"none", "hdscale", "kyverno", "gatekeeper"}, concurrency: []int{1}, rounds: 3}
	var b bytes.Buffer
	writeReport(&b, Results{Rounds: rs}, o)
	out := b.String()
	for _, want := range []string{
		"hdscale vs Kyverno at concurrency 1: added p50 +2.00 ms vs +8.00 ms = 0.25× (median of per-round ratios 0.25×, range 0.25–0.25; target ≤ 0.33×: met)",
		"webhook pods' CPU per admission 2000 µs vs 8000 µs = 0.25× (target ≤ 0.33×: met)",
		"hdscale vs Gatekeeper at concurrency 1: added p50 +2.00 ms vs +3.00 ms = 0.67× (median of per-round ratios 0.67×, range 0.67–0.67; target ≤ 1.00×: met)",
		"2000 µs vs 1000 µs = 2.00× (no target)",
		"| (f) Kyverno | 10.00 ms |", "| (g) Gatekeeper | 5.00 ms |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
