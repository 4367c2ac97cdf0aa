package webhook

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
)

// runtimePod is a bare runtime pod: one runtime container, one sidecar.
func runtimePod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "rt", Namespace: testNamespace},
		Spec: corev1.PodSpec{
			SchedulerName: corev1.DefaultSchedulerName,
			Containers: []corev1.Container{
				{Name: "runtime", Image: "hetida/designer-runtime:0.9.7", Env: []corev1.EnvVar{env(EnvIsBackendService, "false")}},
				{Name: "sidecar", Image: "fluent/fluent-bit:3.1"},
			},
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
		},
	}
}

func mustParse(t *testing.T, labels map[string]string) policy.Namespace {
	t.Helper()
	ns, optedIn, err := policy.Parse(labels)
	if err != nil || !optedIn {
		t.Fatalf("policy.Parse(%v) = %v, %v", labels, optedIn, err)
	}
	return ns
}

func plan(t *testing.T, pod *corev1.Pod, labels map[string]string, p *pool.Pool) Decision {
	t.Helper()
	return planDeclared(t, pod, labels, p, 0)
}

func planDeclared(t *testing.T, pod *corev1.Pod, labels map[string]string, p *pool.Pool, declaredMilli int64) Decision {
	t.Helper()
	return Plan(PlanInput{Pod: pod, Runtime: NewMatcher(DefaultConfig()).Match(pod).Containers,
		Policy: mustParse(t, labels), Pool: p, DeclaredCPUMilli: declaredMilli, SchedulerName: DefaultSchedulerName})
}

func nsLabels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func envValue(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func cpu(rl corev1.ResourceList) string {
	q, ok := rl[corev1.ResourceCPU]
	if !ok {
		return ""
	}
	return q.String()
}

func TestPlanSizingPerPattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		labels                map[string]string
		pool                  *pool.Pool
		declared              int64
		req, lim, workers     string
		wantSource            policy.SizingSource
		wantWarningSubstrings []string
	}{
		{"per-node", nsLabels(policy.LabelPattern, "per-node"), testPool, 0, "3750m", "4", "4", policy.SizedFromPool, nil},
		{"per-node 2 workers per core", nsLabels(policy.LabelPattern, "per-node", policy.LabelWorkersPerCore, "2"), testPool, 0, "3750m", "4", "8", policy.SizedFromPool, nil},
		{"per-node-single", nsLabels(policy.LabelPattern, "per-node-single"), testPool, 0, "3750m", "4", "1", policy.SizedFromPool, nil},
		{"per-core", nsLabels(policy.LabelPattern, "per-core"), testPool, 0, "1", "1", "1", policy.SizedFromPool, nil},
		{"per-core cpu override", nsLabels(policy.LabelPattern, "per-core", policy.LabelCPU, "1500m"), testPool, 0, "1500m", "1500m", "1", policy.SizedFromOverride, nil},
		{"per-node cpu override", nsLabels(policy.LabelPattern, "per-node", policy.LabelCPU, "2"), testPool, 0, "2", "2", "2", policy.SizedFromOverride, nil},
		{"per-node 3x8+2x4 pool: the reference 8 CPU", nsLabels(policy.LabelPattern, "per-node", policy.LabelPool, "mixed"), mixedPool, 0,
			"7900m", "8", "8", policy.SizedFromPool, []string{"pool mixed: sized for its 3 nodes of 8 CPU, 32Gi; 2 node(s) of other shapes get no replicas",
				"hdscale: node m4-a (4 CPU, 32Gi) is not of pool mixed's shape: no replicas", "hdscale: node m4-b (4 CPU, 32Gi)"}},
		{"per-node all cordoned: sized for the cordoned nodes' shape", nsLabels(policy.LabelPattern, "per-node", policy.LabelPool, "cordoned"), cordonedPool, 8000,
			"4", "4", "4", policy.SizedFromPool, []string{"pool cordoned has no usable node; sized for its nodes' shape (4 CPU, 16Gi); Pending until one is usable",
				"pool cordoned: none of its 2 nodes is usable (c-a cordoned, c-b cordoned)"}},
		{"per-node, no node labelled (scaled to zero), declared shape", nsLabels(policy.LabelPattern, "per-node", policy.LabelPool, "scaled"), nil, 8000,
			"8", "8", "8", policy.SizedFromDeclared, []string{"pool scaled has no usable node; sized for its declared node CPU 8 (webhook config)",
				"pool scaled: no node is labelled hdscale.io/pool=scaled"}},
		{"per-core override larger than nodes", nsLabels(policy.LabelPattern, "per-core", policy.LabelCPU, "8"), testPool, 0, "8", "8", "1", policy.SizedFromOverride,
			[]string{"the pod requests 8 CPU, a pool runtime node has 3750m beside DaemonSets: it stays Pending"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := planDeclared(t, runtimePod(), tt.labels, tt.pool, tt.declared)
			if d.Deny != "" || !d.Modified {
				t.Fatalf("deny=%q modified=%v", d.Deny, d.Modified)
			}
			c := &d.Pod.Spec.Containers[0]
			if got := cpu(c.Resources.Requests); got != tt.req {
				t.Errorf("cpu request = %s, want %s", got, tt.req)
			}
			if got := cpu(c.Resources.Limits); got != tt.lim {
				t.Errorf("cpu limit = %s, want %s", got, tt.lim)
			}
			for _, name := range []string{EnvWebConcurrency, EnvMaxWorkers} {
				if got, _ := envValue(c, name); got != tt.workers {
					t.Errorf("%s = %q, want %s", name, got, tt.workers)
				}
			}
			if _, ok := envValue(c, EnvWorkersPerCore); ok {
				t.Errorf("%s was added", EnvWorkersPerCore)
			}
			if side := d.Pod.Spec.Containers[1]; side.Resources.Requests != nil || side.Env != nil {
				t.Errorf("sidecar changed: %+v", side)
			}
			if ic := d.Pod.Spec.InitContainers[0]; ic.Resources.Requests != nil || ic.Env != nil {
				t.Errorf("init container changed: %+v", ic)
			}
			poolName := mustParse(t, tt.labels).Pool
			if d.Pod.Spec.SchedulerName != DefaultSchedulerName || d.Pod.Spec.NodeSelector[policy.NodePoolKey] != poolName {
				t.Errorf("scheduler %q, nodeSelector %v", d.Pod.Spec.SchedulerName, d.Pod.Spec.NodeSelector)
			}
			if tols := d.Pod.Spec.Tolerations; len(tols) != 1 || tols[0] != (corev1.Toleration{Key: policy.NodePoolKey, Operator: corev1.TolerationOpEqual, Value: poolName, Effect: corev1.TaintEffectNoSchedule}) {
				t.Errorf("tolerations = %+v", tols)
			}
			a, pl, err := policy.ParseAnnotation(d.Pod.Annotations[policy.AnnotationPolicy])
			if err != nil {
				t.Fatal(err)
			}
			if a.SizedFrom != tt.wantSource || policy.MilliString(pl.CPURequestMilli) != tt.req || a.Scheduler != DefaultSchedulerName || a.LabelsHash != policy.LabelsHash(tt.labels) {
				t.Errorf("annotation %+v", a)
			}
			for _, w := range tt.wantWarningSubstrings {
				if !containsSubstring(d.Warnings, w) {
					t.Errorf("warnings %q lack %q", d.Warnings, w)
				}
			}
			if len(tt.wantWarningSubstrings) == 0 && len(d.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", d.Warnings)
			}
		})
	}
}

func containsSubstring(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// conflictingPod sets every governed field to something else than the per-node policy.
func conflictingPod() *corev1.Pod {
	p := runtimePod()
	p.Spec.NodeSelector = map[string]string{policy.NodePoolKey: "gpu", "kubernetes.io/os": "linux"}
	p.Spec.SchedulerName = "volcano"
	c := &p.Spec.Containers[0]
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")}
	c.Env = append(c.Env, env(EnvWebConcurrency, "2"), env(EnvMaxWorkers, "16"), env(EnvWorkersPerCore, "3"))
	return p
}

var conflictFields = []string{
	"nodeSelector[hdscale.io/pool]", "schedulerName", "containers[runtime].resources.cpu",
	"containers[runtime].env[WEB_CONCURRENCY]", "containers[runtime].env[MAX_WORKERS]", "containers[runtime].env[WORKERS_PER_CORE]",
}

func TestPlanConflictModes(t *testing.T) {
	t.Parallel()
	t.Run("fill keeps and warns", func(t *testing.T) {
		t.Parallel()
		in := conflictingPod()
		d := plan(t, in, nsLabels(policy.LabelPattern, "per-node"), testPool)
		if d.Deny != "" || len(d.Conflicts) != len(conflictFields) {
			t.Fatalf("deny=%q conflicts=%+v", d.Deny, d.Conflicts)
		}
		out := d.Pod
		if out.Spec.NodeSelector[policy.NodePoolKey] != "gpu" || out.Spec.SchedulerName != "volcano" {
			t.Errorf("fill overwrote placement: %v %s", out.Spec.NodeSelector, out.Spec.SchedulerName)
		}
		c := &out.Spec.Containers[0]
		if cpu(c.Resources.Limits) != "2" || cpu(c.Resources.Requests) != "" {
			t.Errorf("fill changed the pod's cpu: %v %v", c.Resources.Requests, c.Resources.Limits)
		}
		if v, _ := envValue(c, EnvWorkersPerCore); v != "3" {
			t.Errorf("fill removed WORKERS_PER_CORE")
		}
		if len(out.Spec.Tolerations) != 1 {
			t.Errorf("the toleration is not a conflict and must be added: %+v", out.Spec.Tolerations)
		}
		for _, f := range conflictFields {
			if !containsSubstring(d.Warnings, "hdscale: kept "+f) {
				t.Errorf("no warning for %s in %q", f, d.Warnings)
			}
			if !strings.Contains(out.Annotations[policy.AnnotationConflicts], f) {
				t.Errorf("%s missing from %s", f, out.Annotations[policy.AnnotationConflicts])
			}
		}
		if len(d.AuditAnnotations) != len(conflictFields)+1 {
			t.Errorf("audit annotations %v: want one per conflict plus policy", d.AuditAnnotations)
		}
	})
	t.Run("enforce overwrites and warns", func(t *testing.T) {
		t.Parallel()
		d := plan(t, conflictingPod(), nsLabels(policy.LabelPattern, "per-node", policy.LabelConflict, "enforce"), testPool)
		out := d.Pod
		c := &out.Spec.Containers[0]
		if out.Spec.NodeSelector[policy.NodePoolKey] != "runtime" || out.Spec.NodeSelector["kubernetes.io/os"] != "linux" || out.Spec.SchedulerName != DefaultSchedulerName {
			t.Errorf("placement not enforced: %v %s", out.Spec.NodeSelector, out.Spec.SchedulerName)
		}
		if cpu(c.Resources.Requests) != "3750m" || cpu(c.Resources.Limits) != "4" || c.Resources.Limits.Memory().String() != "4Gi" {
			t.Errorf("resources = %+v", c.Resources)
		}
		if v, ok := envValue(c, EnvWorkersPerCore); ok {
			t.Errorf("WORKERS_PER_CORE=%s not removed", v)
		}
		for _, name := range []string{EnvWebConcurrency, EnvMaxWorkers} {
			if v, _ := envValue(c, name); v != "4" {
				t.Errorf("%s = %s", name, v)
			}
		}
		for _, f := range conflictFields {
			if !containsSubstring(d.Warnings, "hdscale: overwrote "+f) {
				t.Errorf("no warning for %s in %q", f, d.Warnings)
			}
		}
		if !strings.HasPrefix(out.Annotations[policy.AnnotationConflicts], `{"overwritten":[`) {
			t.Errorf("conflicts annotation %q", out.Annotations[policy.AnnotationConflicts])
		}
	})
	t.Run("reject names every field", func(t *testing.T) {
		t.Parallel()
		in := conflictingPod()
		d := plan(t, in, nsLabels(policy.LabelPattern, "per-node", policy.LabelConflict, "reject"), testPool)
		if d.Deny == "" || d.Modified {
			t.Fatalf("not denied: %+v", d)
		}
		for _, f := range conflictFields {
			if !strings.Contains(d.Deny, f) {
				t.Errorf("deny message does not name %s: %s", f, d.Deny)
			}
		}
		for _, want := range []string{`is gpu, policy wants runtime`, `is volcano, policy wants hdscale-scheduler`, `is limit=2, policy wants request=3750m limit=4`, "hdscale.io/conflict=reject"} {
			if !strings.Contains(d.Deny, want) {
				t.Errorf("deny message lacks %q: %s", want, d.Deny)
			}
		}
	})
	t.Run("reject allows a pod without conflicts", func(t *testing.T) {
		t.Parallel()
		d := plan(t, runtimePod(), nsLabels(policy.LabelPattern, "per-node", policy.LabelConflict, "reject"), testPool)
		if d.Deny != "" || !d.Modified || len(d.Conflicts) != 0 {
			t.Fatalf("deny=%q conflicts=%v", d.Deny, d.Conflicts)
		}
	})
}

func TestPlanAuditChangesOnlyTheWouldChangeAnnotation(t *testing.T) {
	t.Parallel()
	for _, conflict := range policy.ConflictModes {
		for _, pod := range []*corev1.Pod{runtimePod(), conflictingPod()} {
			in := pod.DeepCopy()
			d := plan(t, pod, nsLabels(policy.LabelPattern, "per-node", policy.LabelMode, "audit", policy.LabelConflict, string(conflict)), testPool)
			if d.Deny != "" {
				t.Fatalf("audit mode denied: %s", d.Deny)
			}
			wc, ok := d.Pod.Annotations[policy.AnnotationAudit]
			if !ok || !d.Modified || d.AuditAnnotations["would-change"] != wc {
				t.Fatalf("conflict=%s: no would-change annotation: %v", conflict, d.Pod.Annotations)
			}
			if conflict == policy.ConflictReject && len(d.Conflicts) > 0 && !strings.HasPrefix(wc, `{"deny":"hdscale: the pod contradicts`) {
				t.Errorf("would-change %s does not say the pod would be denied", wc)
			}
			stripped := d.Pod.DeepCopy()
			delete(stripped.Annotations, policy.AnnotationAudit)
			if len(stripped.Annotations) == 0 {
				stripped.Annotations = nil
			}
			if !equality.Semantic.DeepEqual(stripped, in) {
				t.Errorf("conflict=%s: audit mode changed more than %s", conflict, policy.AnnotationAudit)
			}
			if _, ok := d.Pod.Annotations[policy.AnnotationPolicy]; ok {
				t.Error("audit mode wrote the policy annotation")
			}
			if !containsSubstring(d.Warnings, "hdscale audit: would ") {
				t.Errorf("no audit warnings: %q", d.Warnings)
			}
		}
	}
}

func TestPlanIdempotent(t *testing.T) {
	t.Parallel()
	pods := map[string]*corev1.Pod{"bare": runtimePod(), "conflicting": conflictingPod()}
	for _, p := range policy.Patterns {
		for _, c := range policy.ConflictModes {
			for _, m := range policy.Modes {
				for name, pod := range pods {
					l := nsLabels(policy.LabelPattern, string(p), policy.LabelConflict, string(c), policy.LabelMode, string(m))
					d1 := plan(t, pod, l, testPool)
					if d1.Deny != "" {
						continue
					}
					d2 := plan(t, d1.Pod, l, testPool)
					if d2.Modified || !equality.Semantic.DeepEqual(d1.Pod, d2.Pod) {
						t.Errorf("%s %v: second pass modified the pod", name, l)
					}
				}
			}
		}
	}
}

func TestPlanDoesNotModifyItsInput(t *testing.T) {
	t.Parallel()
	in := conflictingPod()
	before := in.DeepCopy()
	plan(t, in, nsLabels(policy.LabelPattern, "per-node", policy.LabelConflict, "enforce"), testPool)
	if !equality.Semantic.DeepEqual(in, before) {
		t.Fatal("Plan modified its input pod")
	}
}

func TestPlanSchedulerDefaultKeepsThePodsScheduler(t *testing.T) {
	t.Parallel()
	for _, sched := range []string{"", corev1.DefaultSchedulerName, "volcano"} {
		pod := runtimePod()
		pod.Spec.SchedulerName = sched
		d := plan(t, pod, nsLabels(policy.LabelPattern, "per-node", policy.LabelScheduler, "default", policy.LabelConflict, "reject"), testPool)
		if d.Deny != "" || d.Pod.Spec.SchedulerName != sched {
			t.Errorf("scheduler %q: deny=%q got %q", sched, d.Deny, d.Pod.Spec.SchedulerName)
		}
		if d.Annotation.Scheduler != "" {
			t.Errorf("annotation scheduler = %q, want empty", d.Annotation.Scheduler)
		}
	}
}

// A pod that carries hdscale's earlier choice of its scheduler, in a
// namespace now labelled hdscale.io/scheduler=default (a pod spec copied from
// a mutated pod; drift of running pods): the earlier choice is undone.
func TestPlanSchedulerDefaultUndoesHdscalesEarlierScheduler(t *testing.T) {
	t.Parallel()
	before := plan(t, runtimePod(), nsLabels(policy.LabelPattern, "per-node"), testPool)
	if before.Pod.Spec.SchedulerName != DefaultSchedulerName {
		t.Fatalf("first admission: scheduler %q, want %q", before.Pod.Spec.SchedulerName, DefaultSchedulerName)
	}
	for _, conflict := range []string{"fill", "enforce", "reject"} {
		d := plan(t, before.Pod, nsLabels(policy.LabelPattern, "per-node", policy.LabelScheduler, "default", policy.LabelConflict, conflict), testPool)
		if d.Deny != "" || d.Pod.Spec.SchedulerName != corev1.DefaultSchedulerName {
			t.Errorf("%s: deny=%q scheduler %q, want %q", conflict, d.Deny, d.Pod.Spec.SchedulerName, corev1.DefaultSchedulerName)
		}
		found := false
		for _, c := range d.Changes {
			found = found || (c.Field == "schedulerName" && c.To == corev1.DefaultSchedulerName)
		}
		if !found {
			t.Errorf("%s: changes %+v lack schedulerName -> %s", conflict, d.Changes, corev1.DefaultSchedulerName)
		}
		again := plan(t, d.Pod, nsLabels(policy.LabelPattern, "per-node", policy.LabelScheduler, "default", policy.LabelConflict, conflict), testPool)
		if again.Modified {
			t.Errorf("%s: a second pass modified the pod again: %+v", conflict, again.Changes)
		}
	}
}

func TestPlanWorkersPerCore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, value string
		conflict       bool
	}{
		{"per-node", "1", false},    // 4 workers on 4 cores
		{"per-node", "1.0", false},  // same number
		{"per-node", "2", true},     // 8 workers
		{"per-core", "0.25", false}, // 1 worker on 4 cores
		{"per-core", "1", true},     // 4 workers
		{"per-node-single", "0.25", false},
		{"per-node", "lots", true},
		{"per-node", "", true},
	}
	for _, tt := range tests {
		pod := runtimePod()
		pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, env(EnvWorkersPerCore, tt.value))
		d := plan(t, pod, nsLabels(policy.LabelPattern, tt.pattern, policy.LabelConflict, "enforce"), testPool)
		got := hasConflict(d.Conflicts, "containers[runtime].env[WORKERS_PER_CORE]")
		if got != tt.conflict {
			t.Errorf("%s WORKERS_PER_CORE=%q: conflict=%v, want %v", tt.pattern, tt.value, got, tt.conflict)
		}
		_, kept := envValue(&d.Pod.Spec.Containers[0], EnvWorkersPerCore)
		if kept == tt.conflict {
			t.Errorf("%s WORKERS_PER_CORE=%q: kept=%v under enforce", tt.pattern, tt.value, kept)
		}
	}
}

func TestPlanEnvDetails(t *testing.T) {
	t.Parallel()
	fromCM := corev1.EnvVar{Name: EnvMaxWorkers, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "tuning"}, Key: "max"}}}
	t.Run("valueFrom is a conflict with unknown value", func(t *testing.T) {
		t.Parallel()
		pod := runtimePod()
		pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, fromCM)
		d := plan(t, pod, nsLabels(policy.LabelPattern, "per-node"), testPool)
		if len(d.Conflicts) != 1 || d.Conflicts[0].Pod != valueFromText {
			t.Fatalf("conflicts = %+v", d.Conflicts)
		}
		d = plan(t, pod, nsLabels(policy.LabelPattern, "per-node", policy.LabelConflict, "enforce"), testPool)
		for _, e := range d.Pod.Spec.Containers[0].Env {
			if e.Name == EnvMaxWorkers && (e.ValueFrom != nil || e.Value != "4") {
				t.Fatalf("enforce left %+v", e)
			}
		}
	})
	t.Run("duplicates: the last entry counts, enforce keeps one", func(t *testing.T) {
		t.Parallel()
		pod := runtimePod()
		pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, env(EnvWebConcurrency, "9"), env("X", "y"), env(EnvWebConcurrency, " 4 "))
		d := plan(t, pod, nsLabels(policy.LabelPattern, "per-node"), testPool)
		if hasConflict(d.Conflicts, "containers[runtime].env[WEB_CONCURRENCY]") {
			t.Errorf("effective value 4 reported as conflict")
		}
		pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, env(EnvWebConcurrency, "2"))
		d = plan(t, pod, nsLabels(policy.LabelPattern, "per-node", policy.LabelConflict, "enforce"), testPool)
		n := 0
		for _, e := range d.Pod.Spec.Containers[0].Env {
			if e.Name == EnvWebConcurrency {
				n++
				if e.Value != "4" {
					t.Errorf("WEB_CONCURRENCY=%q", e.Value)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d WEB_CONCURRENCY entries after enforce", n)
		}
	})
}

func TestPlanCPUPairs(t *testing.T) {
	t.Parallel()
	q := resource.MustParse
	tests := []struct {
		name               string
		req, lim           string
		conflict           bool
		wantReq, wantLimit string // after fill
	}{
		{"unset", "", "", false, "3750m", "4"},
		{"limit equal, request filled", "", "4000m", false, "3750m", "4"},
		{"request equal, limit filled", "3.75", "", false, "3750m", "4"},
		{"both equal", "3750m", "4", false, "3750m", "4"},
		{"request differs: both kept", "500m", "", true, "500m", ""},
		{"limit differs: both kept", "3750m", "2", true, "3750m", "2"},
	}
	for _, tt := range tests {
		pod := runtimePod()
		c := &pod.Spec.Containers[0]
		if tt.req != "" {
			c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: q(tt.req)}
		}
		if tt.lim != "" {
			c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: q(tt.lim)}
		}
		d := plan(t, pod, nsLabels(policy.LabelPattern, "per-node"), testPool)
		if got := hasConflict(d.Conflicts, "containers[runtime].resources.cpu"); got != tt.conflict {
			t.Errorf("%s: conflict=%v", tt.name, got)
		}
		out := &d.Pod.Spec.Containers[0]
		gotReq, gotLim := cpu(out.Resources.Requests), cpu(out.Resources.Limits)
		if gotReq != tt.wantReq || gotLim != tt.wantLimit {
			t.Errorf("%s: request=%s limit=%s, want %s %s", tt.name, gotReq, gotLim, tt.wantReq, tt.wantLimit)
		}
	}
}

func TestPlanDriftReappliesHdscaleValues(t *testing.T) {
	t.Parallel()
	old := nsLabels(policy.LabelPattern, "per-node", policy.LabelConflict, "fill")
	d1 := plan(t, runtimePod(), old, testPool)
	// The namespace is relabelled to per-core, and the same pod object is
	// admitted again (e.g. copied with kubectl): the values hdscale wrote
	// are re-applied without conflicts.
	now := nsLabels(policy.LabelPattern, "per-core", policy.LabelConflict, "reject")
	d2 := plan(t, d1.Pod, now, testPool)
	if d2.Deny != "" || len(d2.Conflicts) != 0 {
		t.Fatalf("hdscale's own values treated as the pod's: deny=%q conflicts=%+v", d2.Deny, d2.Conflicts)
	}
	c := &d2.Pod.Spec.Containers[0]
	if cpu(c.Resources.Requests) != "1" || cpu(c.Resources.Limits) != "1" {
		t.Errorf("not re-sized: %+v", c.Resources)
	}
	if v, _ := envValue(c, EnvWebConcurrency); v != "1" {
		t.Errorf("WEB_CONCURRENCY=%s", v)
	}
	if !containsSubstring(d2.Warnings, "came from other namespace labels") || d2.AuditAnnotations["drift"] == "" {
		t.Errorf("no drift warning: %q %v", d2.Warnings, d2.AuditAnnotations)
	}
	// A value the pod changed itself still conflicts.
	p := d1.Pod.DeepCopy()
	p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, env(EnvMaxWorkers, "7"))
	if d3 := plan(t, p, now, testPool); d3.Deny == "" || !strings.Contains(d3.Deny, "MAX_WORKERS") {
		t.Errorf("pod's own value not reported: %q", d3.Deny)
	}
}

func TestPlanTolerations(t *testing.T) {
	t.Parallel()
	for name, tol := range map[string]corev1.Toleration{
		"exists for the key": {Key: policy.NodePoolKey, Operator: corev1.TolerationOpExists},
		"everything":         {Operator: corev1.TolerationOpExists},
		"equal with effect":  {Key: policy.NodePoolKey, Value: "runtime", Effect: corev1.TaintEffectNoSchedule},
	} {
		pod := runtimePod()
		pod.Spec.Tolerations = []corev1.Toleration{tol}
		d := plan(t, pod, nsLabels(policy.LabelPattern, "per-node"), testPool)
		if len(d.Pod.Spec.Tolerations) != 1 {
			t.Errorf("%s: toleration added although the taint is tolerated: %+v", name, d.Pod.Spec.Tolerations)
		}
	}
	pod := runtimePod()
	pod.Spec.Tolerations = []corev1.Toleration{{Key: policy.NodePoolKey, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	d := plan(t, pod, nsLabels(policy.LabelPattern, "per-node", policy.LabelPool, "cpu-a"), testPool)
	if len(d.Pod.Spec.Tolerations) != 2 || d.Pod.Spec.Tolerations[1].Value != "cpu-a" {
		t.Errorf("toleration for another pool kept, ours added: %+v", d.Pod.Spec.Tolerations)
	}
}

func TestAuditKey(t *testing.T) {
	t.Parallel()
	taken := map[string]string{}
	long := "containers[" + strings.Repeat("a-very-long-container-name", 3) + "].env[WEB_CONCURRENCY]"
	for _, f := range append(conflictFields, long, long, long) {
		k := auditKey("conflict.", f, taken)
		taken[k] = "x"
		if len(k) > 63 || !qualifiedNamePart(k) {
			t.Errorf("auditKey(%q) = %q is not a valid key", f, k)
		}
	}
	if len(taken) != len(conflictFields)+3 {
		t.Errorf("keys collide: %v", taken)
	}
	if k := auditKey("conflict.", "containers[runtime].env[WEB_CONCURRENCY]", nil); k != "conflict.containers.runtime.env.WEB_CONCURRENCY" {
		t.Errorf("key = %q", k)
	}
}

func qualifiedNamePart(s string) bool {
	if s == "" {
		return false
	}
	alnum := func(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' }
	if !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.' {
			return false
		}
	}
	return true
}

func TestConflictsAnnotationMerges(t *testing.T) {
	t.Parallel()
	got := conflictsAnnotation(`{"overwritten":["b","a"]}`, []Conflict{{Field: "c", Action: ActionOverwritten}, {Field: "a", Action: ActionOverwritten}, {Field: "k", Action: ActionKept}})
	if want := `{"kept":["k"],"overwritten":["a","b","c"]}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := conflictsAnnotation("not json", []Conflict{{Field: "x", Action: ActionKept}}); got != `{"kept":["x"]}` {
		t.Errorf("broken existing value: got %s", got)
	}
}
