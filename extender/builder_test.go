package extender

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	placed := t0.Add(-10 * time.Second)
	a := bound(runtimePod("ns1", "a", policy.PerCore, "runtime", 1000, 1000), "r-0", placed, placed)
	b := bound(runtimePod("ns1", "b", policy.PerCore, "runtime", 1000, 1000), "r-0", placed, placed)
	c := bound(runtimePod("ns2", "c", policy.PerNode, "runtime", 3800, 4000), "r-1", placed, time.Time{}) // not running yet
	ds := bound(plainPod("kube-system", "ds", 200), "r-0", placed, placed)
	unbound := runtimePod("ns1", "pending", policy.PerCore, "runtime", 1000, 1000)
	done := bound(plainPod("ns1", "done", 500), "r-0", placed, placed)
	done.Status.Phase = v1.PodSucceeded
	badAnno := bound(plainPod("ns1", "bad", 300), "r-1", placed, placed)
	badAnno.Annotations = map[string]string{policy.AnnotationPolicy: "{"}
	cordoned := node("r-3", "runtime", 4000, 16*gi, func(n *v1.Node) { n.Spec.Unschedulable = true })
	notReady := node("r-4", "runtime", 8000, 32*gi, func(n *v1.Node) { n.Status.Conditions[0].Status = v1.ConditionFalse })
	snap := Build(Input{
		Nodes:          []*v1.Node{node("r-0", "runtime", 4000, 16*gi), node("r-1", "runtime", 4000, 16*gi), node("other", "", 2000, 8*gi), cordoned, notReady},
		Pods:           []*v1.Pod{a, b, c, ds, unbound, done, badAnno},
		Samples:        []NodeSample{sample("r-0", 700, t0.Add(-2*time.Second)), sample("r-1", 100, t0.Add(-2*time.Second)), sample("gone", 1, t0)},
		Now:            t0,
		ShapeTolerance: 0.05,
	})
	if snap.Len() != 5 {
		t.Fatalf("nodes = %d, want 5", snap.Len())
	}
	get := func(name string) *NodeFacts {
		i, ok := snap.Lookup(name)
		if !ok {
			t.Fatalf("node %s missing", name)
		}
		return snap.Node(i)
	}
	r0, r1 := get("r-0"), get("r-1")
	if r0.RequestedMilli != 2200 || r0.RuntimePods != 2 {
		t.Errorf("r-0 requested=%d runtime=%d, want 2200 and 2 (terminal and unbound pods do not count)", r0.RequestedMilli, r0.RuntimePods)
	}
	if r1.RequestedMilli != 4100 || r1.RuntimePods != 1 {
		t.Errorf("r-1 requested=%d runtime=%d, want 4100 and 1 (bad annotation counts as a plain pod)", r1.RequestedMilli, r1.RuntimePods)
	}
	// Sample window [t0-17s, t0-2s] started before the placement at t0-10s:
	// a and b are not included yet.
	if r0.EstimateMilli != 2000 || r0.Uncovered != 2 {
		t.Errorf("r-0 estimate=%d uncovered=%d, want 2000, 2", r0.EstimateMilli, r0.Uncovered)
	}
	if r1.EstimateMilli != 3800 {
		t.Errorf("r-1 estimate=%d, want the per-node request 3800", r1.EstimateMilli)
	}
	if r0.Sample.UsageMilli != 700 || !r0.Sample.Has() {
		t.Errorf("r-0 sample = %+v", r0.Sample)
	}
	if get("r-3").Usable() || get("r-4").Usable() || !r0.Usable() {
		t.Errorf("usable flags wrong")
	}
	p, ok := snap.Pool("runtime")
	if !ok || p.Nodes != 4 || p.Usable != 2 || p.Ref != (pool.Shape{CPUMilli: 4000, MemBytes: 16 * gi}) || p.Members != 2 {
		t.Errorf("pool = %+v (unschedulable nodes must not define the reference)", p)
	}
	if _, ok := snap.Pool(""); ok {
		t.Error("unlabelled nodes form a pool")
	}
	r0idx, _ := snap.Lookup("r-0")
	g := snap.groups[groupKey{"ns1", "runtime"}]
	if g[r0idx] != 2 || g[0]+g[1]+g[2]+g[3]+g[4] != 2 {
		t.Errorf("ns1 group counts = %v", g)
	}
	if !snap.isBound(a.UID) || !snap.isBound(c.UID) || snap.isBound(ds.UID) || snap.isBound(unbound.UID) {
		t.Error("bound runtime UIDs wrong")
	}
}

func TestBuildEstimateDecay(t *testing.T) {
	t.Parallel()
	placed := t0.Add(-30 * time.Second)
	tests := []struct {
		name     string
		started  time.Time // zero: pod not running
		placedAt time.Time // reservation time (zero: PodScheduled time)
		sampleTS time.Time
		want     int64
	}{
		{"no sample", placed, time.Time{}, time.Time{}, 1000},
		{"window started before placement", placed, time.Time{}, placed.Add(10 * time.Second), 1000},
		{"window starts exactly at placement", placed, time.Time{}, placed.Add(15 * time.Second), 1000},
		{"window started after placement", placed, time.Time{}, placed.Add(16 * time.Second), 0},
		{"not running yet", time.Time{}, time.Time{}, placed.Add(60 * time.Second), 1000},
		{"containers started later", placed.Add(20 * time.Second), time.Time{}, placed.Add(30 * time.Second), 1000},
		{"window after container start", placed.Add(20 * time.Second), time.Time{}, placed.Add(36 * time.Second), 0},
		{"reservation time is the placement", placed, placed.Add(5 * time.Second), placed.Add(19 * time.Second), 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := bound(runtimePod("ns", "p", policy.PerCore, "runtime", 500, 1000), "r-0", placed, tt.started)
			in := Input{Nodes: []*v1.Node{node("r-0", "runtime", 4000, 16*gi)}, Pods: []*v1.Pod{p}, Now: t0}
			if !tt.placedAt.IsZero() {
				in.PlacedAt = map[types.UID]time.Time{p.UID: tt.placedAt}
			}
			if !tt.sampleTS.IsZero() {
				in.Samples = []NodeSample{sample("r-0", 100, tt.sampleTS)}
			}
			snap := Build(in)
			if got := snap.Node(0).EstimateMilli; got != tt.want {
				t.Errorf("estimate = %d, want %d (per-core estimate is the limit)", got, tt.want)
			}
		})
	}
}

// TestBuilderIncrementalMatchesBuild applies random node, pod and sample
// changes incrementally and checks every snapshot equals a from-scratch
// Build of the same objects.
func TestBuilderIncrementalMatchesBuild(t *testing.T) {
	t.Parallel()
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			checkIncremental(t, seed)
		})
	}
}

func checkIncremental(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	b := NewBuilder(0.05)
	nodes := map[string]*v1.Node{}
	pods := map[types.UID]*v1.Pod{}
	placedAt := map[types.UID]time.Time{}
	samples := map[string]NodeSample{}
	for step := range 400 {
		now := t0.Add(time.Duration(step) * time.Second)
		switch op := rng.IntN(10); {
		case op < 2:
			name := fmt.Sprintf("n-%d", rng.IntN(6))
			poolName := []string{"runtime", "gpu", ""}[rng.IntN(3)]
			n := node(name, poolName, []int64{4000, 8000}[rng.IntN(2)], 16*gi, func(n *v1.Node) { n.Spec.Unschedulable = rng.IntN(4) == 0 })
			nodes[name] = n
			b.SetNode(pool.NodeFrom(n))
		case op < 3:
			name := fmt.Sprintf("n-%d", rng.IntN(6))
			delete(nodes, name)
			delete(samples, name)
			b.DeleteNode(name)
		case op < 7:
			name := fmt.Sprintf("p-%d", rng.IntN(20))
			var p *v1.Pod
			if rng.IntN(2) == 0 {
				p = runtimePod("ns", name, []policy.Pattern{policy.PerCore, policy.PerNode}[rng.IntN(2)], "runtime", 1000, 2000)
			} else {
				p = plainPod("ns", name, int64(rng.IntN(5))*100)
			}
			if rng.IntN(4) > 0 {
				var started time.Time
				if rng.IntN(2) == 0 {
					started = now.Add(-time.Duration(rng.IntN(30)) * time.Second)
				}
				p = bound(p, fmt.Sprintf("n-%d", rng.IntN(7)), now.Add(-time.Duration(rng.IntN(30))*time.Second), started)
			}
			if rng.IntN(10) == 0 {
				p.Status.Phase = v1.PodFailed
			}
			// The incremental builder keeps the first placement time of a
			// replica that stays on its node; mirror that for Build.
			if old, ok := pods[p.UID]; !ok || old.Spec.NodeName != p.Spec.NodeName || !isRuntime(old) || !isRuntime(p) {
				placedAt[p.UID] = now
			}
			pods[p.UID] = p
			b.SetPod(podFactsFrom(p), placedAt[p.UID], now)
		case op < 8:
			uid := types.UID(fmt.Sprintf("uid-ns-p-%d", rng.IntN(20)))
			delete(pods, uid)
			b.DeletePod(uid)
		default:
			name := fmt.Sprintf("n-%d", rng.IntN(7))
			s := sample(name, int64(rng.IntN(4000)), now.Add(-time.Duration(rng.IntN(40))*time.Second))
			samples[name] = s
			b.SetSamples([]NodeSample{s})
		}
		got := b.Snapshot(now)
		in := Input{Now: now, ShapeTolerance: 0.05, PlacedAt: placedAt}
		for _, n := range nodes {
			in.Nodes = append(in.Nodes, n)
		}
		for _, p := range pods {
			in.Pods = append(in.Pods, p)
		}
		for _, s := range samples {
			in.Samples = append(in.Samples, s)
		}
		want := Build(in)
		if !reflect.DeepEqual(got.nodes, want.nodes) && !(len(got.nodes) == 0 && len(want.nodes) == 0) {
			t.Fatalf("step %d: nodes differ:\n got %+v\nwant %+v", step, got.nodes, want.nodes)
		}
		if !reflect.DeepEqual(got.pools, want.pools) {
			t.Fatalf("step %d: pools differ: %+v vs %+v", step, got.pools, want.pools)
		}
		if !equalGroups(got.groups, want.groups) || !reflect.DeepEqual(got.bound, want.bound) {
			t.Fatalf("step %d: groups or bound differ: %v %v vs %v %v", step, got.groups, got.bound, want.groups, want.bound)
		}
	}
}

func isRuntime(p *v1.Pod) bool { return podFactsFrom(p).Runtime }

func equalGroups(a, b map[groupKey][]int32) bool {
	clean := func(m map[groupKey][]int32) map[groupKey][]int32 {
		out := map[groupKey][]int32{}
		for g, per := range m {
			for _, c := range per {
				if c != 0 {
					out[g] = per
					break
				}
			}
		}
		return out
	}
	return reflect.DeepEqual(clean(a), clean(b))
}

func TestBuilderSharesUnchangedParts(t *testing.T) {
	t.Parallel()
	b := NewBuilder(0.05)
	b.SetNode(pool.NodeFrom(node("r-0", "runtime", 4000, 16*gi)))
	s1 := b.Snapshot(t0)
	if b.SetNode(pool.NodeFrom(node("r-0", "runtime", 4000, 16*gi, func(n *v1.Node) {
		n.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(t0.Add(time.Minute))
	}))) {
		t.Error("a heartbeat-only node update reported a change")
	}
	b.SetSamples([]NodeSample{sample("r-0", 5, t0)})
	s2 := b.Snapshot(t0)
	if reflect.ValueOf(s1.index).Pointer() != reflect.ValueOf(s2.index).Pointer() {
		t.Error("node index rebuilt although no node changed")
	}
	if s2.Generation != s1.Generation+1 || s2.Node(0).Sample.UsageMilli != 5 || s1.Node(0).Sample.Has() {
		t.Error("new sample not in the new snapshot only")
	}
	if b.SetPod(podFactsFrom(plainPod("ns", "unbound", 100)), time.Time{}, t0) {
		t.Error("an unbound plain pod reported a change")
	}
}

func TestStripKeepsFacts(t *testing.T) {
	t.Parallel()
	always := v1.ContainerRestartPolicyAlways
	p := bound(runtimePod("ns", "p", policy.PerCore, "runtime", 1000, 1000), "r-0", t0, t0.Add(time.Second))
	p.Labels = map[string]string{"app": "x"}
	p.Annotations["other"] = "y"
	p.Spec.InitContainers = []v1.Container{
		{Name: "init", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("3")}}},
		{Name: "sidecar", RestartPolicy: &always, Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m"), v1.ResourceMemory: resource.MustParse("1Gi")}}},
	}
	p.Spec.Overhead = v1.ResourceList{v1.ResourceCPU: resource.MustParse("50m")}
	p.Spec.Volumes = []v1.Volume{{Name: "v"}}
	stripped, err := stripPod(p)
	if err != nil {
		t.Fatal(err)
	}
	sp := stripped.(*v1.Pod)
	if got, want := podFactsFrom(sp), podFactsFrom(p); !reflect.DeepEqual(got, want) {
		t.Errorf("stripped pod facts differ:\n got %+v\nwant %+v", got, want)
	}
	if want := int64(3000); podFactsFrom(p).RequestMilli != want+50 {
		t.Errorf("effective request = %d, want init peak 3000 + overhead 50", podFactsFrom(p).RequestMilli)
	}
	if len(sp.Spec.Volumes) != 0 || len(sp.Labels) != 0 || len(sp.Annotations) != 1 {
		t.Errorf("stripped pod keeps unneeded fields: %+v", sp.ObjectMeta)
	}
	n := node("r-0", "runtime", 4000, 16*gi, func(n *v1.Node) {
		n.Status.Images = []v1.ContainerImage{{Names: []string{"x"}}}
		n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: v1.TaintNodeNotReady, Effect: v1.TaintEffectNoSchedule})
	})
	sn, _ := stripNode(n)
	if got, want := pool.NodeFrom(sn.(*v1.Node)), pool.NodeFrom(n); got != want || got.Usable() {
		t.Errorf("stripped node facts %+v, want %+v (not-ready taint: unschedulable)", got, want)
	}
	if len(sn.(*v1.Node).Status.Images) != 0 {
		t.Error("stripped node keeps images")
	}
	// Transforms pass other objects through.
	if o, _ := stripPod("x"); o != "x" {
		t.Error("stripPod changed a non-pod")
	}
	if o, _ := stripNode(3); o != 3 {
		t.Error("stripNode changed a non-node")
	}
}

// Pods without CPU requests (BestEffort) are common: removing them must not
// trip over a node aggregate that looked empty.
func TestBuilderBestEffortPods(t *testing.T) {
	t.Parallel()
	b := NewBuilder(0.05)
	b.SetNode(pool.NodeFrom(node("r-0", "runtime", 4000, 16*gi)))
	be1 := bound(plainPod("ns", "be1", 0), "r-0", t0, t0)
	be2 := bound(plainPod("ns", "be2", 0), "r-0", t0, t0)
	req := bound(plainPod("ns", "req", 300), "r-0", t0, t0)
	for _, p := range []*v1.Pod{be1, req, be2} {
		b.SetPod(podFactsFrom(p), time.Time{}, t0)
	}
	b.DeletePod(req.UID)
	b.DeletePod(be1.UID)
	b.DeletePod(be2.UID)
	if s := b.Snapshot(t0); s.Node(0).RequestedMilli != 0 || len(b.agg) != 0 || len(b.pods) != 0 {
		t.Errorf("after removing every pod: %+v, agg %v", s.Node(0), b.agg)
	}
}
