package extender

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hdscale/hdscale/internal/policy"
	v1 "k8s.io/api/core/v1"
)

// scheduleOne does what kube-scheduler does with a nodeCacheCapable
// extender for one pod: filter; when exactly one node is left, take it
// without scoring; otherwise prioritize and take the maximum (which must be
// unique, or kube-scheduler would pick at random). It returns "" when the
// pod is unschedulable, and the filter answer.
func scheduleOne(t *testing.T, h http.Handler, pod *v1.Pod, nodeNames []string) (string, []string) {
	t.Helper()
	fr := filterVia(t, h, pod, nodeNames)
	feasible := *fr.NodeNames
	switch len(feasible) {
	case 0:
		var reasons []string
		for _, r := range fr.FailedNodes {
			reasons = append(reasons, r)
		}
		for _, r := range fr.FailedAndUnresolvableNodes {
			reasons = append(reasons, r)
		}
		return "", reasons
	case 1:
		return feasible[0], nil
	}
	hp := prioritizeVia(t, h, pod, feasible)
	best, ties := "", 0
	var top int64 = -1
	for _, p := range hp {
		switch {
		case p.Score > top:
			best, top, ties = p.Host, p.Score, 1
		case p.Score == top:
			ties++
		}
	}
	if ties != 1 {
		t.Fatalf("pod %s: %d nodes share the top score %d: %+v", pod.Name, ties, top, hp)
	}
	return best, nil
}

func TestBurstSpreadsOnePerNode(t *testing.T) {
	t.Parallel()
	const n = 8
	idle := func() []NodeSample {
		var s []NodeSample
		for i := range n {
			s = append(s, sample(fmt.Sprintf("r-%d", i), 0, t0.Add(-5*time.Second)))
		}
		return s
	}
	tests := []struct {
		name    string
		pattern policy.Pattern
		req     int64
		lim     int64
		pods    int
		samples []NodeSample
		perNode int // replicas every node must end with
	}{
		{"per-core, live metrics that do not move", policy.PerCore, 1000, 1000, n, idle(), 1},
		{"per-core, no metrics (fallback)", policy.PerCore, 1000, 1000, n, nil, 1},
		{"per-node, live metrics", policy.PerNode, 3800, 4000, n, idle(), 1},
		{"per-node-single, fallback", policy.PerNodeSingle, 3800, 4000, n, nil, 1},
		{"per-core, two waves fill evenly", policy.PerCore, 1000, 1000, 2 * n, idle(), 2},
		{"per-core, four per node reaches the cap evenly", policy.PerCore, 1000, 1000, 4 * n, nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, clk, _ := newTestExtender(t)
			nodes := poolNodes("r", "runtime", n)
			load(e, nodes, nil, tt.samples)
			h := e.Handler()
			placed := map[string]int{}
			var boundPods []*v1.Pod
			for i := range tt.pods {
				pod := runtimePod("team", fmt.Sprintf("runtime-%d", i), tt.pattern, "runtime", tt.req, tt.lim)
				got, reasons := scheduleOne(t, h, pod, names(nodes))
				if got == "" {
					t.Fatalf("pod %d unschedulable: %v", i, reasons)
				}
				placed[got]++
				boundPods = append(boundPods, bound(pod, got, clk.Now(), time.Time{}))
				clk.Step(10 * time.Millisecond) // the burst: the binding is still in flight
			}
			for _, nd := range nodes {
				if placed[nd.Name] != tt.perNode {
					t.Fatalf("placements %v, want %d on every node", placed, tt.perNode)
				}
			}
			if got := e.res.Count(clk.Now()); got != tt.pods {
				t.Errorf("reservations = %d, want %d", got, tt.pods)
			}
			// The bindings arrive: reservations become placements.
			for _, p := range boundPods {
				e.setPod(p)
			}
			snap := e.store.rebuild()
			if got := e.res.Count(clk.Now()); got != 0 {
				t.Errorf("reservations after the pods were seen bound = %d", got)
			}
			for _, nd := range nodes {
				i, _ := snap.Lookup(nd.Name)
				if got := snap.Node(i).RuntimePods; got != int32(tt.perNode) {
					t.Errorf("%s counts %d replicas, want %d", nd.Name, got, tt.perNode)
				}
			}
			// One more replica: every node is full (per-node, or per-core at
			// its cap) or it goes where the fewest are.
			extra := runtimePod("team", "extra", tt.pattern, "runtime", tt.req, tt.lim)
			got, reasons := scheduleOne(t, h, extra, names(nodes))
			full := tt.pattern.MaxPerNode(4000, tt.req) == tt.perNode
			if full && got != "" {
				t.Errorf("extra replica placed on %s although every node is at its cap", got)
			}
			if full && len(reasons) != n {
				t.Errorf("extra replica: %d reasons, want one per node: %v", len(reasons), reasons)
			}
			if !full && got == "" {
				t.Errorf("extra replica unschedulable: %v", reasons)
			}
		})
	}
}

func TestBurstSkewedLoadFillsLightestFirst(t *testing.T) {
	t.Parallel()
	// Background usage as a fraction of 4 CPUs; per-core replicas burn 1
	// CPU (25%) each, so the greedy order by effective utilisation is known.
	usage := map[string]float64{"r-0": 0.5, "r-1": 0.1, "r-2": 0.8, "r-3": 0.2, "r-4": 0.3, "r-5": 0.65}
	// The fifth pod finds r-0 (50%) and r-3 (45%) in the same score bucket
	// and takes r-0, which has no replica yet.
	wantOrder := []string{"r-1", "r-3", "r-4", "r-1", "r-0"}
	e, clk, _ := newTestExtender(t)
	nodes := poolNodes("r", "runtime", len(usage))
	var samples []NodeSample
	for name, u := range usage {
		samples = append(samples, sample(name, int64(u*4000), t0.Add(-5*time.Second)))
	}
	load(e, nodes, nil, samples)
	h := e.Handler()
	for i, want := range wantOrder {
		pod := runtimePod("team", fmt.Sprintf("runtime-%d", i), policy.PerCore, "runtime", 1000, 1000)
		got, reasons := scheduleOne(t, h, pod, names(nodes))
		if got != want {
			t.Fatalf("pod %d went to %q (%v), want %s; order so far %v", i, got, reasons, want, wantOrder[:i])
		}
		clk.Step(10 * time.Millisecond)
	}
}

func TestBurstReservationFollowsActualBinding(t *testing.T) {
	t.Parallel()
	e, clk, _ := newTestExtender(t)
	nodes := poolNodes("r", "runtime", 3)
	load(e, nodes, nil, nil)
	h := e.Handler()
	a := runtimePod("team", "a", policy.PerNode, "runtime", 3800, 4000)
	predicted, _ := scheduleOne(t, h, a, names(nodes))
	if predicted != "r-0" {
		t.Fatalf("predicted %s", predicted)
	}
	// Something else (a lower-weight profile, a manual binding) put the pod
	// on r-2 instead: it counts there, not on r-0.
	e.setPod(bound(a, "r-2", clk.Now(), time.Time{}))
	e.store.rebuild()
	b := runtimePod("team", "b", policy.PerNode, "runtime", 3800, 4000)
	c := runtimePod("team", "c", policy.PerNode, "runtime", 3800, 4000)
	gotB, _ := scheduleOne(t, h, b, names(nodes))
	gotC, _ := scheduleOne(t, h, c, names(nodes)) // filter leaves one node: reserved by filter
	if gotB != "r-0" || gotC != "r-1" {
		t.Fatalf("b on %s, c on %s; want r-0 and r-1", gotB, gotC)
	}
	if r, ok := e.res.Get(c.UID); !ok || r.Verb != verbFilter || r.Node != "r-1" {
		t.Errorf("the single feasible node was not reserved by filter: %+v %v", r, ok)
	}
	d := runtimePod("team", "d", policy.PerNode, "runtime", 3800, 4000)
	if got, reasons := scheduleOne(t, h, d, names(nodes)); got != "" || len(reasons) != 3 {
		t.Errorf("d placed on %q with every node taken (%v)", got, reasons)
	}
	// b is deleted before it binds; c is seen unschedulable in a newer
	// version: both reservations go, and d fits twice over.
	e.deletePod(b.UID)
	uc := c.DeepCopy()
	uc.ResourceVersion = "11"
	uc.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: v1.PodReasonUnschedulable}}
	e.setPod(uc)
	if e.res.Count(clk.Now()) != 0 {
		t.Fatalf("reservations left: %+v", e.res.List())
	}
	if got, _ := scheduleOne(t, h, d, names(nodes)); got != "r-0" {
		t.Errorf("d went to %q, want r-0", got)
	}
	// A reservation whose pod is never seen again expires.
	clk.Step(e.opts.ReservationTTL)
	if got := e.res.Count(clk.Now()); got != 0 {
		t.Errorf("expired reservations still counted: %d", got)
	}
	e2 := runtimePod("team", "e", policy.PerNode, "runtime", 3800, 4000)
	if got, _ := scheduleOne(t, h, e2, names(nodes)); got != "r-0" {
		t.Errorf("after expiry e went to %q, want r-0 again", got)
	}
}

func TestBurstEstimateDecaysWithNewSample(t *testing.T) {
	t.Parallel()
	e, clk, _ := newTestExtender(t)
	nodes := poolNodes("r", "runtime", 2)
	load(e, nodes, nil, []NodeSample{sample("r-0", 0, t0.Add(-5*time.Second)), sample("r-1", 400, t0.Add(-5*time.Second))})
	h := e.Handler()
	a := runtimePod("team", "a", policy.PerCore, "runtime", 1000, 1000)
	if got, _ := scheduleOne(t, h, a, names(nodes)); got != "r-0" {
		t.Fatalf("a went to %s", got)
	}
	// Bound and running: the reservation becomes a placement whose estimate
	// keeps r-0 busier than r-1 ...
	clk.Step(time.Second)
	e.setPod(bound(a, "r-0", clk.Now(), clk.Now()))
	snap := e.store.rebuild()
	if i, _ := snap.Lookup("r-0"); snap.Node(i).EstimateMilli != 1000 {
		t.Fatalf("placement estimate = %d", snap.Node(i).EstimateMilli)
	}
	b := runtimePod("team", "b", policy.PerCore, "runtime", 1000, 1000)
	if got, _ := scheduleOne(t, h, b, names(nodes)); got != "r-1" {
		t.Fatalf("b went to %s, want r-1 while a's estimate counts", got)
	}
	e.deletePod(b.UID)
	// ... until a sample whose window starts after the placement arrives:
	// it measured a as idle (and r-1 busier), so r-0 is the lighter node
	// again. Without the decay r-0 would count 100m + 1000m and lose.
	clk.Step(20 * time.Second)
	e.store.update(func(bd *Builder) bool {
		return bd.SetSamples([]NodeSample{sample("r-0", 100, clk.Now()), sample("r-1", 1000, clk.Now())})
	})
	snap = e.store.rebuild()
	if i, _ := snap.Lookup("r-0"); snap.Node(i).EstimateMilli != 0 {
		t.Fatalf("estimate did not decay: %d", snap.Node(i).EstimateMilli)
	}
	if got, _ := scheduleOne(t, h, b, names(nodes)); got != "r-0" {
		t.Errorf("b went to %s after the decay, want r-0", got)
	}
}

func TestStaleMetricsNeverBlockPlacement(t *testing.T) {
	t.Parallel()
	// metrics-server is down: every sample is an hour old. The hot threshold
	// is on and the stale samples claim 100% usage; placement still works on
	// requests.
	e, _, _ := newTestExtender(t, func(o *Options) { o.HotThreshold = 0.5 })
	nodes := poolNodes("r", "runtime", 3)
	old := t0.Add(-time.Hour)
	load(e, nodes, []*v1.Pod{bound(plainPod("x", "busy", 3000), "r-0", old, old)},
		[]NodeSample{sample("r-0", 4000, old), sample("r-1", 4000, old), sample("r-2", 4000, old)})
	got, reasons := scheduleOne(t, e.Handler(), runtimePod("team", "p", policy.PerCore, "runtime", 1000, 1000), names(nodes))
	if got != "r-1" {
		t.Errorf("placed on %q (%v), want r-1 by requests", got, reasons)
	}
	if v := e.staleNodes(); v != 3 {
		t.Errorf("stale nodes = %v, want 3", v)
	}
}
