package extender

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/serving"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	testingclock "k8s.io/utils/clock/testing"
)

// TestServe runs the whole extender against fake clientsets: informers,
// poller, both listeners, readiness, the protocol, /explain and /metrics.
func TestServe(t *testing.T) {
	t.Parallel()
	var objs []runtime.Object
	for _, n := range poolNodes("r", "runtime", 3) {
		objs = append(objs, n)
	}
	busy := bound(runtimePod("team", "old", policy.PerNode, "runtime", 3800, 4000), "r-0", t0, t0)
	objs = append(objs, busy)
	kube := fake.NewClientset(objs...)
	src := &fakeSource{samples: []NodeSample{sample("r-1", 3000, t0), sample("r-2", 100, t0)}}

	o := Default()
	clk := testingclock.NewFakeClock(t0)
	o.Clock = clk
	reg := serving.NewRegistry()
	e, err := New(o, logr.Discard(), reg)
	if err != nil {
		t.Fatal(err)
	}
	ln, hln, pln := listen(t), listen(t), listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, kube, src, reg, Listeners{Protocol: ln, Health: hln, Private: pln}) }()
	base, health, private := "http://"+ln.Addr().String(), "http://"+hln.Addr().String(), "http://"+pln.Addr().String()

	waitFor(t, "readiness", func() bool { return status(health+"/readyz") == http.StatusOK })
	waitFor(t, "the bound replica and the samples", func() bool {
		s := e.store.load()
		i, ok := s.Lookup("r-0")
		j, _ := s.Lookup("r-1")
		return ok && s.Node(i).RuntimePods == 1 && s.Node(j).Sample.Has()
	})
	if status(health+"/healthz") != http.StatusOK {
		t.Error("healthz not ok")
	}

	pod := runtimePod("team", "new", policy.PerNode, "runtime", 3800, 4000)
	nodeNames := []string{"r-0", "r-1", "r-2"}
	body, _ := json.Marshal(extenderv1.ExtenderArgs{Pod: pod, NodeNames: &nodeNames})
	resp, err := http.Post(base+"/filter", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var fr extenderv1.ExtenderFilterResult
	_ = json.NewDecoder(resp.Body).Decode(&fr)
	_ = resp.Body.Close()
	// By default /filter answers with the winner only: r-1 or r-2 (r-0 is
	// at its cap).
	if fr.NodeNames == nil || len(*fr.NodeNames) != 1 || ((*fr.NodeNames)[0] != "r-1" && (*fr.NodeNames)[0] != "r-2") || len(fr.FailedNodes) != 1 {
		t.Fatalf("filter over the wire = %+v (names %v)", fr, deref(fr.NodeNames))
	}
	resp, err = http.Post(base+"/prioritize", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var hp extenderv1.HostPriorityList
	_ = json.NewDecoder(resp.Body).Decode(&hp)
	_ = resp.Body.Close()
	best := extenderv1.HostPriority{Score: -1}
	for _, p := range hp {
		if p.Score > best.Score {
			best = p
		}
	}
	if best.Host != "r-2" {
		t.Errorf("prioritize over the wire = %+v, want r-2 (lightest live usage)", hp)
	}
	// The informer turns the reservation into a placement.
	if _, err := kube.CoreV1().Pods("team").Create(ctx, bound(pod, "r-2", t0, time.Time{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reservation to be reconciled", func() bool { return e.res.Count(clk.Now()) == 0 })

	for path, want := range map[string]string{
		"/explain?pod=team/new": `"chosen": "r-2"`,
		"/metrics":              `hdscale_extender_decisions_total{result="placed",verb="prioritize"} 1`,
	} {
		resp, err := http.Get(private + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q:\n%.2000s", path, want, b)
		}
		if status(health+path) != http.StatusNotFound {
			t.Errorf("%s is served on the health listener; it must be private only", path)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v", err)
	}
}

func TestInformerEventsHandleTombstones(t *testing.T) {
	t.Parallel()
	e, _, _ := newTestExtender(t)
	n := node("r-0", "runtime", 4000, 16*gi)
	p := bound(runtimePod("team", "a", policy.PerCore, "runtime", 1000, 1000), "r-0", t0, t0)
	e.nodeEvent(n, false)
	e.podEvent(p, false)
	e.podEvent("not a pod", false)
	snap := e.store.rebuild()
	if snap.Len() != 1 || snap.Node(0).RuntimePods != 1 {
		t.Fatalf("after adds: %d nodes, %+v", snap.Len(), snap.Node(0))
	}
	e.podEvent(cache.DeletedFinalStateUnknown{Key: "team/a", Obj: p}, false)
	e.nodeEvent(cache.DeletedFinalStateUnknown{Key: "r-0", Obj: n}, false)
	if snap = e.store.rebuild(); snap.Len() != 0 || snap.isBound(p.UID) {
		t.Errorf("tombstones not applied: %d nodes", snap.Len())
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func status(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond (informers and servers run asynchronously) and fails
// after a generous bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func TestRunRejectsBadOptionsAndAddresses(t *testing.T) {
	t.Parallel()
	o := Default()
	o.ShapeTolerance = 2
	if err := Run(context.Background(), o, fake.NewClientset(), nil, logr.Discard(), serving.NewRegistry()); err == nil || !strings.Contains(err.Error(), "shape tolerance") {
		t.Errorf("bad options: %v", err)
	}
	taken := listen(t)
	defer taken.Close()
	o = Default()
	o.ListenAddr, o.HealthAddr, o.PrivateAddr = taken.Addr().String(), "127.0.0.1:0", "127.0.0.1:0"
	if err := Run(context.Background(), o, fake.NewClientset(), nil, logr.Discard(), serving.NewRegistry()); err == nil || !strings.Contains(err.Error(), "listening") {
		t.Errorf("taken address: %v", err)
	}
}
