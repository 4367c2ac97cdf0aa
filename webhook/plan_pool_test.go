package webhook

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
)

func withCPU(c corev1.Container, req string) corev1.Container {
	c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(req)}
	return c
}

// The runtime container gets the reference node minus DaemonSets minus every
// other request of the pod, so exactly one replica fits on a node.
func TestPlanSizesForTheWholePod(t *testing.T) {
	t.Parallel()
	always := corev1.ContainerRestartPolicyAlways
	mesh := withCPU(corev1.Container{Name: "istio-proxy", Image: "istio/proxyv2:1.24"}, "100m")
	native := mesh
	native.RestartPolicy = &always
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		// want: runtime container request, whole pod request.
		req, podCPU string
	}{
		{"no sidecar requests", func(*corev1.Pod) {}, "3750m", "3750m"},
		{"a 100m sidecar container", func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, mesh) }, "3650m", "3750m"},
		{"a 100m native sidecar", func(p *corev1.Pod) { p.Spec.InitContainers = append(p.Spec.InitContainers, native) }, "3650m", "3750m"},
		{"overhead", func(p *corev1.Pod) {
			p.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}
		}, "3700m", "3750m"},
		{"an init container larger than the rest does not count twice", func(p *corev1.Pod) {
			p.Spec.InitContainers[0] = withCPU(p.Spec.InitContainers[0], "500m")
		}, "3750m", "3750m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := runtimePod()
			tt.mutate(pod)
			d := plan(t, pod, nsLabels(policy.LabelPattern, "per-node"), testPool)
			if got := cpu(d.Pod.Spec.Containers[0].Resources.Requests); got != tt.req {
				t.Errorf("runtime request = %s, want %s", got, tt.req)
			}
			if got := policy.MilliString(pool.PodCPURequestMilli(d.Pod)); got != tt.podCPU {
				t.Errorf("pod request as kube-scheduler counts it = %s, want %s (4 CPU - 250m DaemonSets)", got, tt.podCPU)
			}
			if d.Annotation.PodCPU != tt.podCPU || d.Annotation.PerNode != 1 {
				t.Errorf("annotation podCPU %q perNode %d, want %s and 1", d.Annotation.PodCPU, d.Annotation.PerNode, tt.podCPU)
			}
			if again := plan(t, d.Pod, nsLabels(policy.LabelPattern, "per-node"), testPool); again.Modified {
				t.Errorf("re-planning the decided pod changes it: %+v", again.Changes)
			}
		})
	}
}

// A later webhook adds a sidecar; on reinvocation hdscale re-sizes the runtime
// container so the pod still fits, and touches nothing else.
func TestPlanReinvocationAfterSidecarInjection(t *testing.T) {
	t.Parallel()
	labels := nsLabels(policy.LabelPattern, "per-node")
	first := plan(t, runtimePod(), labels, testPool)
	injected := first.Pod.DeepCopy()
	injected.Spec.Containers = append([]corev1.Container{withCPU(corev1.Container{Name: "istio-proxy", Image: "istio/proxyv2:1.24"}, "100m")},
		injected.Spec.Containers...)
	m := NewMatcher(DefaultConfig()).Match(injected)
	if !m.Previous || len(m.Containers) != 1 || injected.Spec.Containers[m.Containers[0]].Name != "runtime" {
		t.Fatalf("match on reinvocation = %+v, want the previously sized container runtime (index 1)", m)
	}
	d := plan(t, injected, labels, testPool)
	if d.Deny != "" || len(d.Conflicts) != 0 {
		t.Fatalf("reinvocation: deny %q, conflicts %+v (hdscale's own earlier values are no conflict)", d.Deny, d.Conflicts)
	}
	if got := cpu(d.Pod.Spec.Containers[1].Resources.Requests); got != "3650m" {
		t.Errorf("runtime request after injection = %s, want 3650m", got)
	}
	proxy := d.Pod.Spec.Containers[0]
	if cpu(proxy.Resources.Requests) != "100m" || proxy.Resources.Limits != nil || proxy.Env != nil {
		t.Errorf("the injected proxy was touched: %+v", proxy.Resources)
	}
	if got := pool.PodCPURequestMilli(d.Pod); got != 3750 {
		t.Errorf("pod request %dm, want 3750m: one replica per 4-CPU node beside 250m of DaemonSets", got)
	}
}

// A labels-only pod (no image or env identifies the runtime) whose sized
// container moves when another webhook prepends one: only the named
// container is sized on reinvocation.
func TestMatchLabelsOnlyKeepsSizedContainer(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: testNamespace, Labels: map[string]string{
			"app.kubernetes.io/name": "hetida-designer", "app.kubernetes.io/component": "runtime"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "acme/runtime-xgboost:1"}}},
	}
	labels := nsLabels(policy.LabelPattern, "per-node")
	first := plan(t, pod, labels, testPool)
	if got := first.Annotation.Containers; len(got) != 1 || got[0] != "app" {
		t.Fatalf("annotation containers = %v, want [app]", got)
	}
	injected := first.Pod.DeepCopy()
	injected.Spec.Containers = append([]corev1.Container{withCPU(corev1.Container{Name: "linkerd-proxy", Image: "cr.l5d.io/linkerd/proxy:2"}, "100m")},
		injected.Spec.Containers...)
	d := plan(t, injected, labels, testPool)
	if len(d.Pod.Spec.Containers[0].Env) != 0 || cpu(d.Pod.Spec.Containers[0].Resources.Limits) != "" {
		t.Errorf("the prepended proxy was sized: %+v", d.Pod.Spec.Containers[0])
	}
	if got := cpu(d.Pod.Spec.Containers[1].Resources.Requests); got != "3650m" {
		t.Errorf("app request = %s, want 3650m", got)
	}
	// A forged annotation naming a container that does not exist falls back to matching.
	forged := pod.DeepCopy()
	forged.Annotations = map[string]string{policy.AnnotationPolicy: strings.Replace(first.Annotation.Encode(), `"app"`, `"ghost"`, 1)}
	if m := NewMatcher(DefaultConfig()).Match(forged); m.Previous || len(m.Containers) != 1 || m.Containers[0] != 0 {
		t.Errorf("match with a stale annotation = %+v", m)
	}
}

// A pool cordoned for maintenance keeps its shape: pods are sized for it,
// warned, and wait. With no node labelled at all (a node group scaled to
// zero) and nothing declared, whole-node pods get their placement but no
// size, and say so; per-core pods are sized anyway.
func TestPlanEmptyPool(t *testing.T) {
	t.Parallel()
	cordonedLabels := nsLabels(policy.LabelPattern, "per-node", policy.LabelPool, "cordoned")
	dc := plan(t, runtimePod(), cordonedLabels, cordonedPool)
	if dc.Sizing.Source != policy.SizedFromPool || dc.Sizing.NodeCPUMilli != 4000 {
		t.Errorf("cordoned pool: sizing %+v, want sized for its 4-CPU nodes", dc.Sizing)
	}
	if !strings.Contains(dc.AuditAnnotations["pool"], "unusable: c-a cordoned, c-b cordoned") {
		t.Errorf("audit annotation pool = %q", dc.AuditAnnotations["pool"])
	}

	labels := nsLabels(policy.LabelPattern, "per-node", policy.LabelPool, "scaled")
	d := plan(t, runtimePod(), labels, nil)
	if d.Deny != "" || !d.Modified {
		t.Fatalf("deny %q modified %v", d.Deny, d.Modified)
	}
	c := d.Pod.Spec.Containers[0]
	if c.Resources.Requests != nil || c.Resources.Limits != nil {
		t.Errorf("unsized pod got resources %+v", c.Resources)
	}
	if _, ok := envValue(&c, EnvWebConcurrency); ok {
		t.Error("unsized pod got WEB_CONCURRENCY")
	}
	if d.Pod.Spec.NodeSelector[policy.NodePoolKey] != "scaled" || d.Pod.Spec.SchedulerName != DefaultSchedulerName || len(d.Pod.Spec.Tolerations) != 1 {
		t.Errorf("placement not set: %+v", d.Pod.Spec)
	}
	a, pl, err := policy.ParseAnnotation(d.Pod.Annotations[policy.AnnotationPolicy])
	if err != nil || a.SizedFrom != policy.Unsized || pl.CPURequestMilli != 0 {
		t.Errorf("annotation %+v, %v", a, err)
	}
	for _, w := range []string{"pool scaled has no usable node and no declared shape: admitted unsized",
		"pool scaled: no node is labelled hdscale.io/pool=scaled"} {
		if !containsSubstring(d.Warnings, w) {
			t.Errorf("warnings %q lack %q", d.Warnings, w)
		}
	}
	if again := plan(t, d.Pod, labels, nil); again.Modified {
		t.Errorf("re-planning the unsized pod changes it: %+v", again.Changes)
	}
	// Once the pool has nodes again, a re-created pod is sized.
	if d2 := plan(t, runtimePod(), labels, testPool); d2.Sizing.Source != policy.SizedFromPool {
		t.Errorf("with nodes: %+v", d2.Sizing)
	}

	pc := plan(t, runtimePod(), nsLabels(policy.LabelPattern, "per-core", policy.LabelPool, "scaled"), nil)
	if got := cpu(pc.Pod.Spec.Containers[0].Resources.Requests); got != "1" || pc.Sizing.Source != policy.SizedFromPattern {
		t.Errorf("per-core in an empty pool: request %s, source %s", got, pc.Sizing.Source)
	}
	if !containsSubstring(pc.Warnings, "pool scaled has no usable node; the pod stays Pending until one is") {
		t.Errorf("per-core warnings %q", pc.Warnings)
	}
}
