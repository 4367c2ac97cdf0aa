package extender

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hdscale/hdscale/internal/policy"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// filterFixture is a pool "runtime" of 4-CPU 16Gi nodes r-0..r-2, a node of
// another shape, a node of another pool and an unlabelled node.
func filterFixture() []*v1.Node {
	return append(poolNodes("r", "runtime", 3),
		node("big", "runtime", 8000, 32*gi),
		node("near", "runtime", 4100, 16*gi-200<<20), // within 5%
		node("gpu-0", "gpu", 4000, 16*gi),
		node("plain", "", 4000, 16*gi),
	)
}

func TestFilterRules(t *testing.T) {
	t.Parallel()
	placed := t0.Add(-time.Minute)
	perCore := runtimePod("team", "new", policy.PerCore, "runtime", 1000, 1000)
	perNode := runtimePod("team", "new", policy.PerNode, "runtime", 3800, 4000)
	perNodeSingle := runtimePod("team", "new", policy.PerNodeSingle, "runtime", 3800, 4000)
	replica := func(name string, pattern policy.Pattern, nodeName string) *v1.Pod {
		return bound(runtimePod("team", name, pattern, "runtime", 1000, 1000), nodeName, placed, placed)
	}
	other := func(name, ns, nodeName string) *v1.Pod {
		return bound(runtimePod(ns, name, policy.PerNode, "runtime", 3800, 4000), nodeName, placed, placed)
	}
	all := names(filterFixture())
	type want struct {
		v verdict
		r reason
	}
	pass := want{vPass, rNone}
	tests := []struct {
		name  string
		pod   *v1.Pod
		pods  []*v1.Pod
		tol   float64
		nodes []string
		want  map[string]want
	}{
		{
			name: "pool membership and shape", pod: perCore, tol: 0.05, nodes: append(all, "ghost"),
			want: map[string]want{
				"r-0": pass, "r-1": pass, "r-2": pass, "near": pass,
				"big":   {vUnresolvable, rShape},
				"gpu-0": {vUnresolvable, rNotInPool},
				"plain": {vUnresolvable, rNotInPool},
				"ghost": {vFail, rUnknownNode},
			},
		},
		{
			name: "zero tolerance rejects the near node", pod: perCore, tol: 0, nodes: []string{"r-0", "near"},
			want: map[string]want{"r-0": pass, "near": {vUnresolvable, rShape}},
		},
		{
			name: "per-node cap is 1 per namespace", pod: perNode, tol: 0.05, nodes: []string{"r-0", "r-1", "r-2"},
			pods: []*v1.Pod{replica("x", policy.PerNode, "r-0"), other("y", "other-team", "r-1")},
			want: map[string]want{"r-0": {vFail, rCap}, "r-1": pass, "r-2": pass},
		},
		{
			name: "per-node-single cap is 1", pod: perNodeSingle, tol: 0.05, nodes: []string{"r-0", "r-1"},
			pods: []*v1.Pod{replica("x", policy.PerNodeSingle, "r-1")},
			want: map[string]want{"r-0": pass, "r-1": {vFail, rCap}},
		},
		{
			name: "per-core cap is floor(allocatable / request)", pod: perCore, tol: 0.05, nodes: []string{"r-0", "r-1", "near"},
			pods: []*v1.Pod{
				replica("a", policy.PerCore, "r-0"), replica("b", policy.PerCore, "r-0"), replica("c", policy.PerCore, "r-0"), replica("d", policy.PerCore, "r-0"),
				replica("e", policy.PerCore, "r-1"), replica("f", policy.PerCore, "r-1"), replica("g", policy.PerCore, "r-1"),
				replica("h", policy.PerCore, "near"), replica("i", policy.PerCore, "near"), replica("j", policy.PerCore, "near"), replica("k", policy.PerCore, "near"),
			},
			want: map[string]want{"r-0": {vFail, rCap}, "r-1": pass, "near": {vFail, rCap}},
		},
		{
			name: "per-core pod larger than the node", pod: runtimePod("team", "huge", policy.PerCore, "runtime", 5000, 5000), tol: 0.05,
			nodes: []string{"r-0"}, want: map[string]want{"r-0": {vUnresolvable, rTooSmall}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := Default()
			o.ShapeTolerance = tt.tol
			snap := Build(Input{Nodes: filterFixture(), Pods: tt.pods, Now: t0, ShapeTolerance: tt.tol})
			c := evalCtxFor(t, snap, nil, tt.pod, t0, o)
			evs := evsFor(snap, tt.nodes...)
			r := c.filter(evs)
			passed := 0
			for _, ev := range evs {
				w, ok := tt.want[ev.Name]
				if !ok {
					t.Fatalf("no expectation for %s", ev.Name)
				}
				if ev.Verdict != w.v || ev.Reason != w.r {
					t.Errorf("%s: %v/%v, want %v/%v", ev.Name, ev.Verdict, ev.Reason, w.v, w.r)
				}
				if ev.Verdict == vPass {
					passed++
				}
				if ev.Reason != rNone && c.text(ev.Reason) == "" {
					t.Errorf("%s: empty reason text", ev.Name)
				}
			}
			if r.Passed != passed {
				t.Errorf("Passed = %d, want %d", r.Passed, passed)
			}
		})
	}
}

func TestFilterCountsReservations(t *testing.T) {
	t.Parallel()
	o := Default()
	snap := Build(Input{Nodes: poolNodes("r", "runtime", 2), Now: t0, ShapeTolerance: 0.05})
	pod := runtimePod("team", "new", policy.PerNode, "runtime", 3800, 4000)
	res := NewReservations(time.Minute)
	reserve := func(uid, ns, nodeName string, at time.Time) {
		res.Reserve(Reservation{UID: typesUID(uid), Namespace: ns, Name: uid, Node: nodeName, Group: groupKey{ns, "runtime"}, EstimateMilli: 3800, RequestMilli: 3800}, at)
	}
	reserve("other", "team", "r-0", t0)
	reserve(string(pod.UID), "team", "r-1", t0) // the pod's own, from an earlier attempt
	evs := evsFor(snap, "r-0", "r-1")
	evalCtxFor(t, snap, res, pod, t0, o).filter(evs)
	if evs[0].Verdict != vFail || evs[0].Reason != rCap || evs[0].Reserved != 1 {
		t.Errorf("r-0 with another replica's reservation: %+v", evs[0])
	}
	if evs[1].Verdict != vPass || evs[1].Reserved != 0 {
		t.Errorf("r-1 holds only the pod's own reservation, which must not count: %+v", evs[1])
	}
	// Another namespace's reservation does not count toward this cap.
	res2 := NewReservations(time.Minute)
	res2.Reserve(Reservation{UID: "x", Node: "r-0", Group: groupKey{"elsewhere", "runtime"}, EstimateMilli: 3800}, t0)
	evs = evsFor(snap, "r-0")
	evalCtxFor(t, snap, res2, pod, t0, o).filter(evs)
	if evs[0].Verdict != vPass || evs[0].RuntimePods != 1 || evs[0].Replicas != 0 {
		t.Errorf("other namespace's reservation: %+v", evs[0])
	}
	// An expired reservation does not count.
	evs = evsFor(snap, "r-0")
	evalCtxFor(t, snap, res, pod, t0.Add(time.Minute), o).filter(evs)
	if evs[0].Verdict != vPass {
		t.Errorf("expired reservation still counts: %+v", evs[0])
	}
}

func TestFilterHotThreshold(t *testing.T) {
	t.Parallel()
	fresh := t0.Add(-5 * time.Second)
	stale := t0.Add(-time.Hour)
	tests := []struct {
		name    string
		samples []NodeSample
		wantHot map[string]bool // nodes rejected as hot
		waived  bool
	}{
		{
			name:    "hot node rejected",
			samples: []NodeSample{sample("r-0", 3600, fresh), sample("r-1", 400, fresh), sample("r-2", 1000, fresh)},
			wantHot: map[string]bool{"r-0": true},
		},
		{
			name:    "never every node for load alone",
			samples: []NodeSample{sample("r-0", 3600, fresh), sample("r-1", 3900, fresh), sample("r-2", 4000, fresh)},
			wantHot: map[string]bool{},
			waived:  true,
		},
		{
			name:    "stale data never makes a node hot",
			samples: []NodeSample{sample("r-0", 4000, stale), sample("r-1", 400, fresh), sample("r-2", 400, fresh)},
			wantHot: map[string]bool{},
		},
		{
			name:    "no metrics at all: nothing is hot",
			wantHot: map[string]bool{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := Default()
			o.HotThreshold = 0.8
			snap := Build(Input{Nodes: poolNodes("r", "runtime", 3), Samples: tt.samples, Now: t0, ShapeTolerance: 0.05})
			evs := evsFor(snap, "r-0", "r-1", "r-2")
			r := evalCtxFor(t, snap, nil, runtimePod("team", "p", policy.PerCore, "runtime", 1000, 1000), t0, o).filter(evs)
			if r.HotWaived != tt.waived {
				t.Errorf("HotWaived = %v, want %v", r.HotWaived, tt.waived)
			}
			for _, ev := range evs {
				if got := ev.Reason == rHot; got != tt.wantHot[ev.Name] {
					t.Errorf("%s rejected as hot = %v, want %v (%+v)", ev.Name, got, tt.wantHot[ev.Name], ev)
				}
			}
			if r.Passed == 0 {
				t.Error("hot threshold rejected every node")
			}
		})
	}
}

func TestFilterOnlyOneNode(t *testing.T) {
	t.Parallel()
	evs := []nodeEval{{Verdict: vFail}, {Verdict: vPass}, {Verdict: vUnresolvable}}
	if got := only(evs, 1); got != 1 {
		t.Errorf("only = %d, want 1", got)
	}
	if got := only(evs, 2); got != -1 {
		t.Errorf("only with two passing = %d, want -1", got)
	}
}

// Unusable pool nodes (cordoned, not Ready, being deleted) fail resolvably
// with their own reason, and the per-core cap counts the whole pod (sidecars
// included), as the webhook's per-node estimate does.
func TestFilterUnusableAndWholePodCap(t *testing.T) {
	t.Parallel()
	now := metav1.NewTime(t0)
	nodes := append(poolNodes("r", "runtime", 2),
		node("cordoned", "runtime", 4000, 16*gi, func(n *v1.Node) { n.Spec.Unschedulable = true }),
		node("deleting", "runtime", 4000, 16*gi, func(n *v1.Node) { n.DeletionTimestamp = &now }),
		node("unreachable", "runtime", 4000, 16*gi, func(n *v1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: v1.TaintNodeUnreachable, Effect: v1.TaintEffectNoExecute})
		}),
	)
	pod := runtimePod("team", "p", policy.PerCore, "runtime", 1000, 1000)
	pod.Spec.Containers = append(pod.Spec.Containers, v1.Container{Name: "mesh", Resources: v1.ResourceRequirements{
		Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m")}}})
	placed := t0.Add(-time.Minute)
	var pods []*v1.Pod
	for i := range 3 { // three 1100m replicas on r-0: a fourth does not fit 4 CPU
		p := pod.DeepCopy()
		p.Name, p.UID = fmt.Sprintf("x%d", i), types.UID(fmt.Sprintf("uid-x%d", i))
		pods = append(pods, bound(p, "r-0", placed, placed))
	}
	snap := Build(Input{Nodes: nodes, Pods: pods, Now: t0, ShapeTolerance: 0.05})
	c := evalCtxFor(t, snap, nil, pod, t0, Default())
	defer c.release()
	evs := evsFor(snap, "r-0", "r-1", "cordoned", "deleting", "unreachable")
	c.filter(evs)
	got := byName(evs)
	if ev := got["r-0"]; ev.Verdict != vFail || ev.Reason != rCap || ev.Cap != 3 {
		t.Errorf("r-0: %v/%v cap %d, want fail/cap with cap floor(4000/1100) = 3", ev.Verdict, ev.Reason, ev.Cap)
	}
	if ev := got["r-1"]; ev.Verdict != vPass {
		t.Errorf("r-1: %v/%v, want pass", ev.Verdict, ev.Reason)
	}
	for _, n := range []string{"cordoned", "deleting", "unreachable"} {
		if ev := got[n]; ev.Verdict != vFail || ev.Reason != rUnusable {
			t.Errorf("%s: %v/%v, want fail/unusable", n, ev.Verdict, ev.Reason)
		}
	}
	if txt := c.text(rUnusable); !strings.Contains(txt, "not usable") {
		t.Errorf("unusable text %q", txt)
	}
	if p, _ := snap.Pool("runtime"); p.Members != 2 || p.Usable != 2 || len(p.Unusable) != 3 {
		t.Errorf("pool %+v", p)
	}
}
