package pool

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

func names(ns []Node) []string {
	out := []string{}
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return out
}

// TestFacts covers the pools the issue names: equal; 3×8 + 2×4 CPU; one
// NotReady; one cordoned; one being deleted; all cordoned; none labelled;
// DaemonSets on some nodes only.
func TestFacts(t *testing.T) {
	t.Parallel()
	onlyOn := func(label string) func(*corev1.PodSpec) {
		return func(s *corev1.PodSpec) { tolerateAll(s); s.NodeSelector = map[string]string{label: "yes"} }
	}
	dss := []*appsv1.DaemonSet{
		daemonSet("kube-proxy", "100m", tolerateAll),
		daemonSet("gpu-plugin", "400m", onlyOn("gpu")),
		daemonSet("untolerating", "1", nil), // pool taints keep it off
	}
	type want struct {
		usable, members    int
		ref                Shape
		hasRef             bool
		outliers, unusable []string
		reserved           int64
	}
	s8, s4 := Shape{CPUMilli: 8000, MemBytes: 16 * gi}, Shape{CPUMilli: 4000, MemBytes: 16 * gi}
	tests := []struct {
		name  string
		nodes []*corev1.Node
		want  *want // nil: no pool at all
	}{
		{"equal", []*corev1.Node{poolNode("a", "runtime", "8"), poolNode("b", "runtime", "8"), poolNode("c", "runtime", "8")},
			&want{usable: 3, members: 3, ref: s8, hasRef: true, outliers: []string{}, unusable: []string{}, reserved: 100}},
		{"3x8 + 2x4", []*corev1.Node{poolNode("a", "runtime", "8"), poolNode("b", "runtime", "8"), poolNode("c", "runtime", "8"),
			poolNode("d", "runtime", "4"), poolNode("e", "runtime", "4")},
			&want{usable: 5, members: 3, ref: s8, hasRef: true, outliers: []string{"d", "e"}, unusable: []string{}, reserved: 100}},
		{"one NotReady", []*corev1.Node{poolNode("a", "runtime", "8"), poolNode("b", "runtime", "8", notReady)},
			&want{usable: 1, members: 1, ref: s8, hasRef: true, outliers: []string{}, unusable: []string{"b"}, reserved: 100}},
		{"one cordoned", []*corev1.Node{poolNode("a", "runtime", "8", cordoned), poolNode("b", "runtime", "8")},
			&want{usable: 1, members: 1, ref: s8, hasRef: true, outliers: []string{}, unusable: []string{"a"}, reserved: 100}},
		{"one being deleted", []*corev1.Node{poolNode("a", "runtime", "8"), poolNode("b", "runtime", "8", deleting)},
			&want{usable: 1, members: 1, ref: s8, hasRef: true, outliers: []string{}, unusable: []string{"b"}, reserved: 100}},
		{"all cordoned: the shape is still known", []*corev1.Node{poolNode("a", "runtime", "8", cordoned), poolNode("b", "runtime", "8", cordoned)},
			&want{usable: 0, members: 0, ref: s8, hasRef: true, outliers: []string{}, unusable: []string{"a", "b"}}},
		{"a drain does not flip the reference", []*corev1.Node{poolNode("a", "runtime", "8", cordoned), poolNode("b", "runtime", "8", notReady),
			poolNode("c", "runtime", "8"), poolNode("d", "runtime", "4"), poolNode("e", "runtime", "4")},
			&want{usable: 3, members: 1, ref: s8, hasRef: true, outliers: []string{"d", "e"}, unusable: []string{"a", "b"}, reserved: 100}},
		{"nodes being deleted do not count for the shape", []*corev1.Node{poolNode("a", "runtime", "8", deleting), poolNode("b", "runtime", "8", deleting),
			poolNode("c", "runtime", "4")},
			&want{usable: 1, members: 1, ref: s4, hasRef: true, outliers: []string{}, unusable: []string{"a", "b"}, reserved: 100}},
		{"none labelled", []*corev1.Node{poolNode("a", "", "8"), poolNode("b", "", "8")}, nil},
		{"DaemonSets on some nodes only", []*corev1.Node{poolNode("a", "runtime", "8", withLabel("gpu", "yes")), poolNode("b", "runtime", "8")},
			&want{usable: 2, members: 2, ref: s8, hasRef: true, outliers: []string{}, unusable: []string{}, reserved: 500}},
		{"outlier DaemonSets do not count", []*corev1.Node{poolNode("a", "runtime", "8"), poolNode("b", "runtime", "8"), poolNode("c", "runtime", "4", withLabel("gpu", "yes"))},
			&want{usable: 3, members: 2, ref: s8, hasRef: true, outliers: []string{"c"}, unusable: []string{}, reserved: 100}},
		{"tie: the smaller shape", []*corev1.Node{poolNode("a", "runtime", "8"), poolNode("b", "runtime", "4")},
			&want{usable: 2, members: 1, ref: s4, hasRef: true, outliers: []string{"a"}, unusable: []string{}, reserved: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pools := Facts(tt.nodes, dss, DefaultShapeTolerance)
			p := pools["runtime"]
			if tt.want == nil {
				if len(pools) != 0 {
					t.Fatalf("pools = %v, want none", pools)
				}
				return
			}
			if p == nil {
				t.Fatal("no runtime pool")
			}
			got := want{usable: p.Usable, members: p.Members, ref: p.Ref, hasRef: p.HasRef,
				outliers: names(p.Outliers), unusable: names(p.Unusable), reserved: p.ReservedCPUMilli}
			if !reflect.DeepEqual(got, *tt.want) {
				t.Errorf("pool = %+v\nwant   %+v", got, *tt.want)
			}
			if p.Nodes != len(tt.nodes) {
				t.Errorf("Nodes = %d, want %d", p.Nodes, len(tt.nodes))
			}
			members := 0
			for _, n := range tt.nodes {
				if p.Member(NodeFrom(n)) {
					members++
				}
			}
			if members != p.Members {
				t.Errorf("Member() accepts %d nodes, Members = %d", members, p.Members)
			}
		})
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
	term := func(rs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: rs}
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
		{"In", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(term(req("zone", corev1.NodeSelectorOpIn, "a", "b")))}, true},
		{"NotIn", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(term(req("zone", corev1.NodeSelectorOpNotIn, "a")))}, false},
		{"DoesNotExist", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(term(req("gpu", corev1.NodeSelectorOpDoesNotExist)))}, true},
		{"Gt", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(term(req("gen", corev1.NodeSelectorOpGt, "4")))}, true},
		{"Lt", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(term(req("gen", corev1.NodeSelectorOpLt, "4")))}, false},
		{"terms ORed", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(term(req("zone", corev1.NodeSelectorOpIn, "b")),
			corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "n1")}})}, true},
		{"empty term matches nothing", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(corev1.NodeSelectorTerm{})}, false},
		{"bad affinity matches nothing", corev1.PodSpec{Tolerations: tol, HostNetwork: true, Affinity: affinity(term(req("zone", "Bogus", "a")))}, false},
	}
	for _, tt := range tests {
		ds := &appsv1.DaemonSet{}
		ds.Spec.Template.Spec = tt.spec
		d := DaemonSetFrom(ds)
		if got := d.RunsOn(n); got != tt.want {
			t.Errorf("%s: runs = %v, want %v", tt.name, got, tt.want)
		}
	}
}
