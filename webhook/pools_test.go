package webhook

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

type nodeOpt func(*corev1.Node)

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }
func notReady(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }
func withLabel(k, v string) nodeOpt {
	return func(n *corev1.Node) { n.Labels[k] = v }
}

// poolNode is a Ready node of pool (labelled and tainted) with cpu allocatable.
func poolNode(name, pool, cpu string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
	if pool != "" {
		n.Labels[policy.NodePoolKey] = pool
		n.Spec.Taints = []corev1.Taint{poolTaint(pool)}
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func daemonSet(name, cpu string, mutate func(*corev1.PodSpec)) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"}}
	ds.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "x",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}
	if mutate != nil {
		mutate(&ds.Spec.Template.Spec)
	}
	return ds
}

func tolerateAll(s *corev1.PodSpec) {
	s.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
}

func TestComputePoolShapes(t *testing.T) {
	t.Parallel()
	nodes := []*corev1.Node{
		poolNode("r1", "runtime", "4"),
		poolNode("r2", "runtime", "3900m"),
		poolNode("r3", "runtime", "16", cordoned),
		poolNode("r4", "runtime", "16", notReady),
		poolNode("g1", "gpu", "8", withLabel("accelerator", "a100")),
		poolNode("w1", "", "32"),
	}
	dss := []*appsv1.DaemonSet{
		daemonSet("kube-proxy", "100m", tolerateAll),   // everywhere
		daemonSet("node-exporter", "50m", tolerateAll), // everywhere
		daemonSet("cni", "150m", func(s *corev1.PodSpec) { // tolerates only the runtime pool
			s.Tolerations = []corev1.Toleration{{Key: policy.NodePoolKey, Operator: corev1.TolerationOpEqual, Value: "runtime", Effect: corev1.TaintEffectNoSchedule}}
		}),
		daemonSet("untolerating", "1", nil), // pool taints keep it off
		daemonSet("gpu-plugin", "500m", func(s *corev1.PodSpec) { // selector matches gpu nodes only
			tolerateAll(s)
			s.NodeSelector = map[string]string{"accelerator": "a100"}
		}),
		daemonSet("affinity", "200m", func(s *corev1.PodSpec) { // required affinity: pool In [gpu]
			tolerateAll(s)
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: policy.NodePoolKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"gpu"}}}}}}}}
		}),
		daemonSet("no-cpu", "0", tolerateAll),
	}
	got := ComputePoolShapes(nodes, dss)
	want := map[string]policy.PoolShape{
		"runtime": {Nodes: 2, MinCPUMilli: 3900, MaxCPUMilli: 4000, ReservedCPUMilli: 300},
		"gpu":     {Nodes: 1, MinCPUMilli: 8000, MaxCPUMilli: 8000, ReservedCPUMilli: 850},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("shapes = %+v\nwant     %+v", got, want)
	}
	if !got["runtime"].Uneven() || got["gpu"].Uneven() {
		t.Error("unevenness wrong")
	}
	if len(ComputePoolShapes(nil, dss)) != 0 {
		t.Error("shapes without nodes")
	}
}

func TestDaemonSetRunsOn(t *testing.T) {
	t.Parallel()
	n := poolNode("n1", "runtime", "4", withLabel("zone", "a"), withLabel("gen", "5"))
	n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "soft", Effect: corev1.TaintEffectPreferNoSchedule},
		corev1.Taint{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule})
	tol := []corev1.Toleration{{Key: policy.NodePoolKey, Operator: corev1.TolerationOpExists}}
	req := func(key string, op corev1.NodeSelectorOperator, vals ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: vals}
	}
	affinity := func(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	}
	tests := []struct {
		name string
		spec corev1.PodSpec
		want bool
	}{
		{"host network tolerates network-unavailable", corev1.PodSpec{Tolerations: tol, HostNetwork: true}, true},
		{"network-unavailable taint blocks a pod network pod", corev1.PodSpec{Tolerations: tol}, false},
		{"pool taint not tolerated", corev1.PodSpec{HostNetwork: true}, false},
		{"selector mismatch", corev1.PodSpec{Tolerations: tol, HostNetwork: true, NodeSelector: map[string]string{"zone": "b"}}, false},
		{"In", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "a", "b")}})}, true},
		{"NotIn", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpNotIn, "a")}})}, false},
		{"DoesNotExist", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("gpu", corev1.NodeSelectorOpDoesNotExist)}})}, true},
		{"Gt", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("gen", corev1.NodeSelectorOpGt, "4")}})}, true},
		{"Lt", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("gen", corev1.NodeSelectorOpLt, "4")}})}, false},
		{"terms ORed", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "b")}},
			corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "n1")}})}, true},
		{"empty term matches nothing", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(corev1.NodeSelectorTerm{})}, false},
	}
	for _, tt := range tests {
		if got := daemonSetRunsOn(&tt.spec, n); got != tt.want {
			t.Errorf("%s: runs = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPodSpecCPURequest(t *testing.T) {
	t.Parallel()
	q := resource.MustParse
	c := func(req, lim string) corev1.Container {
		var r corev1.ResourceRequirements
		if req != "" {
			r.Requests = corev1.ResourceList{corev1.ResourceCPU: q(req)}
		}
		if lim != "" {
			r.Limits = corev1.ResourceList{corev1.ResourceCPU: q(lim)}
		}
		return corev1.Container{Resources: r}
	}
	always := corev1.ContainerRestartPolicyAlways
	sidecar := func(req string) corev1.Container { x := c(req, ""); x.RestartPolicy = &always; return x }
	tests := []struct {
		name string
		spec corev1.PodSpec
		want int64
	}{
		{"containers summed, limit when no request", corev1.PodSpec{Containers: []corev1.Container{c("100m", ""), c("", "200m"), c("", "")}}, 300},
		{"init peak larger", corev1.PodSpec{Containers: []corev1.Container{c("100m", "")}, InitContainers: []corev1.Container{c("1", "")}}, 1000},
		{"sidecars add to containers", corev1.PodSpec{Containers: []corev1.Container{c("100m", "")}, InitContainers: []corev1.Container{sidecar("50m"), c("120m", "")}}, 170},
		{"overhead", corev1.PodSpec{Containers: []corev1.Container{c("100m", "")}, Overhead: corev1.ResourceList{corev1.ResourceCPU: q("10m")}}, 110},
		{"pod-level resources win", corev1.PodSpec{Containers: []corev1.Container{c("100m", "")}, Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("1")}}}, 1000},
	}
	for _, tt := range tests {
		if got := podSpecCPURequestMilli(&tt.spec); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func resourceQuantity(s string) *resource.Quantity { q := resource.MustParse(s); return &q }
