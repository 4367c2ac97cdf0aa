package pool

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hdscale/hdscale/internal/policy"
)

func ctr(name, req, lim string) corev1.Container {
	c := corev1.Container{Name: name}
	if req != "" {
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(req)}
	}
	if lim != "" {
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(lim)}
	}
	return c
}

func sidecar(name, req string) corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	c := ctr(name, req, "")
	c.RestartPolicy = &always
	return c
}

func TestPodCPURequestMilli(t *testing.T) {
	t.Parallel()
	q := resource.MustParse
	tests := []struct {
		name string
		spec corev1.PodSpec
		want int64
	}{
		{"empty", corev1.PodSpec{}, 0},
		{"containers summed, limit when no request", corev1.PodSpec{Containers: []corev1.Container{ctr("a", "100m", ""), ctr("b", "", "200m"), ctr("c", "", "")}}, 300},
		{"init peak larger", corev1.PodSpec{Containers: []corev1.Container{ctr("a", "100m", "")}, InitContainers: []corev1.Container{ctr("i", "1", "")}}, 1000},
		{"sidecars add to containers", corev1.PodSpec{Containers: []corev1.Container{ctr("a", "100m", "")}, InitContainers: []corev1.Container{sidecar("s", "50m"), ctr("i", "120m", "")}}, 170},
		{"init after sidecar", corev1.PodSpec{InitContainers: []corev1.Container{sidecar("s", "1"), ctr("i", "2", "")}, Containers: []corev1.Container{ctr("a", "500m", "")}}, 3000},
		{"overhead", corev1.PodSpec{Containers: []corev1.Container{ctr("a", "100m", "")}, Overhead: corev1.ResourceList{corev1.ResourceCPU: q("10m")}}, 110},
		{"pod-level resources win", corev1.PodSpec{Containers: []corev1.Container{ctr("a", "100m", "")}, Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("1")}}}, 1000},
		{"huge clamps", corev1.PodSpec{Containers: []corev1.Container{ctr("a", "1e15", "")}}, maxMilli},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := tt.spec
			if got := SpecCPURequestMilli(&spec); got != tt.want {
				t.Errorf("SpecCPURequestMilli = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOtherCPURequestMilli(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{sidecar("mesh-init", "100m"), ctr("setup", "50m", "")},
		Containers:     []corev1.Container{ctr("proxy", "200m", ""), ctr("runtime", "3", "4")},
		Overhead:       corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("25m")},
	}}
	// proxy 200m + native sidecar 100m + overhead 25m; the runtime (index 1)
	// and the plain init container (it ends before the runtime starts) do not count.
	if got := OtherCPURequestMilli(pod, []int{1}); got != 325 {
		t.Errorf("others = %d, want 325", got)
	}
	if pod.Spec.Containers[1].Resources.Requests.Cpu().MilliValue() != 3000 {
		t.Error("OtherCPURequestMilli modified the pod")
	}
	// The budget built from it makes the whole pod fit one 4-CPU node exactly.
	p := &Pool{Name: "runtime", HasRef: true, Ref: Shape{CPUMilli: 4000}, ReservedCPUMilli: 175}
	b := BudgetFor(p, 0, pod, []int{1})
	s := policy.Size(policy.Namespace{Pattern: policy.PerNode, WorkersPerCore: 1}, b)
	if s.CPURequestMilli != 3500 || s.PodCPUMilli != 3825 || s.PerNode != 1 {
		t.Errorf("sizing %+v: want request 3500m, pod 3825m (= 4000 - 175 reserved), 1 per node", s)
	}
	sized := pod.DeepCopy()
	sized.Spec.Containers[1].Resources.Requests[corev1.ResourceCPU] = *resource.NewMilliQuantity(s.CPURequestMilli, resource.DecimalSI)
	if got := PodCPURequestMilli(sized); got != s.PodCPUMilli {
		t.Errorf("the sized pod requests %d as kube-scheduler counts it, the sizing says %d", got, s.PodCPUMilli)
	}
}

func TestBudgetFor(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{ctr("runtime", "", "")}}}
	p := &Pool{Name: "runtime", HasRef: true, Ref: Shape{CPUMilli: 8000}, ReservedCPUMilli: 100}
	if b := BudgetFor(p, 4000, pod, []int{0}); b != (policy.Budget{NodeCPUMilli: 8000, ReservedCPUMilli: 100, Containers: 1, Source: policy.SizedFromPool}) {
		t.Errorf("usable pool: %+v", b)
	}
	empty := &Pool{Name: "runtime", Nodes: 2}
	if b := BudgetFor(empty, 4000, pod, []int{0}); b != (policy.Budget{NodeCPUMilli: 4000, Containers: 1, Source: policy.SizedFromDeclared}) {
		t.Errorf("declared: %+v", b)
	}
	if b := BudgetFor(nil, 0, pod, []int{0}); b != (policy.Budget{Containers: 1}) {
		t.Errorf("nothing known: %+v", b)
	}
}
