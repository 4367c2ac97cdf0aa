package webhook

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/hdscale/hdscale/internal/drift"
	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
)

// driftNamespaces is a Namespaces whose labels a test can change while the
// tracker runs.
type driftNamespaces struct {
	mu sync.Mutex
	m  StaticNamespaces
}

func (n *driftNamespaces) Get(name string) (*corev1.Namespace, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m.Get(name)
}

func (n *driftNamespaces) set(name string, labels map[string]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.m[name] = labels
}

// driftAdmitted is a runtime pod of a Deployment as hdscale admitted it in a
// namespace with labels and pool p, then scheduled and running.
func driftAdmitted(t *testing.T, ns, name string, labels map[string]string, p *pool.Pool) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "runtime-7d9f8b6c5", UID: "u-1", Controller: ptr(true)}}},
		Spec: corev1.PodSpec{
			SchedulerName: corev1.DefaultSchedulerName,
			Containers: []corev1.Container{
				{Name: "runtime", Image: "hetida/designer-runtime:0.9.7", Env: []corev1.EnvVar{env(EnvIsBackendService, "false")}},
				{Name: "sidecar", Image: "fluent/fluent-bit:3.1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}},
			},
		},
	}
	d := Plan(PlanInput{Pod: pod, Runtime: NewMatcher(DefaultConfig()).Match(pod).Containers, Policy: mustParse(t, labels),
		Pool: p, SchedulerName: DefaultSchedulerName})
	if !d.Modified || d.Deny != "" {
		t.Fatalf("admitting %s: modified %v, deny %q", name, d.Modified, d.Deny)
	}
	d.Pod.Spec.NodeName = "pool-a"
	d.Pod.Status.Phase = corev1.PodRunning
	return d.Pod
}

type driftFixture struct {
	tracker    *DriftTracker
	client     *fake.Clientset
	clk        *clocktesting.FakeClock
	reg        *prometheus.Registry
	namespaces *driftNamespaces
	pool       atomic.Pointer[pool.Pool]
}

func newDriftFixture(t *testing.T, pods ...*corev1.Pod) *driftFixture {
	t.Helper()
	f := &driftFixture{
		clk: clocktesting.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		reg: prometheus.NewRegistry(),
		namespaces: &driftNamespaces{m: StaticNamespaces{
			"hetida":  nsLabels(policy.LabelPattern, "per-core"),
			"hetida2": nsLabels(policy.LabelPattern, "per-node"),
		}},
	}
	f.pool.Store(testPool)
	objs := make([]runtime.Object, len(pods))
	for i, p := range pods {
		objs[i] = p
	}
	f.client = fake.NewClientset(objs...)
	var err error
	f.tracker, err = NewDriftTracker(f.client, DefaultSchedulerName, f.namespaces,
		func(name string) *pool.Pool {
			if p := f.pool.Load(); p.Name == name {
				return p
			}
			return nil
		}, nil, NewMatcher(DefaultConfig()), f.reg, f.clk, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// waitUntil polls cond (bounded), failing the test with its last error.
func waitUntil(t *testing.T, cond func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(t.Context(), 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		last = cond()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("condition not met: %v", last)
	}
}

func (f *driftFixture) gauges(want string) func() error {
	return func() error {
		return testutil.GatherAndCompare(f.reg, strings.NewReader(want), "hdscale_runtime_pods", "hdscale_runtime_pods_drifted")
	}
}

const driftHelp = `# HELP hdscale_runtime_pods Runtime pods placed by hdscale (hdscale.io/policy set, scheduled by the hdscale scheduler), by namespace.
# TYPE hdscale_runtime_pods gauge
`
const driftedHelp = `# HELP hdscale_runtime_pods_drifted Runtime pods that would get other values if created again now, by namespace and reason (labels, pool-shape, opted-out, sizing; a pod may count under several reasons). kubectl hdscale drift lists them.
# TYPE hdscale_runtime_pods_drifted gauge
`

func TestDriftTracker(t *testing.T) {
	t.Parallel()
	perNode, perCore := nsLabels(policy.LabelPattern, "per-node"), nsLabels(policy.LabelPattern, "per-core")
	other := driftAdmitted(t, "hetida", "elsewhere", perCore, testPool)
	other.Spec.SchedulerName = "other-scheduler"
	f := newDriftFixture(t,
		// hetida is per-core now: two pods sized per-node drifted, one is current.
		driftAdmitted(t, "hetida", "rt-a", perNode, testPool),
		driftAdmitted(t, "hetida", "rt-b", perNode, testPool),
		driftAdmitted(t, "hetida", "rt-c", perCore, testPool),
		// hetida2 is per-node, as its pod was sized.
		driftAdmitted(t, "hetida2", "rt-d", perNode, testPool),
		other,
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "backend", Namespace: "hetida"},
			Spec: corev1.PodSpec{SchedulerName: DefaultSchedulerName, Containers: []corev1.Container{{Name: "b", Image: "hetida/designer-backend"}}}},
	)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := f.tracker.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.tracker.Start(ctx); err == nil {
		t.Error("a second Start succeeded")
	}
	// Start returns after the first recompute: no polling needed.
	if err := f.gauges(driftHelp + `hdscale_runtime_pods{namespace="hetida"} 3
hdscale_runtime_pods{namespace="hetida2"} 1
` + driftedHelp + `hdscale_runtime_pods_drifted{namespace="hetida",reason="labels"} 2
`)(); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.tracker.Drifted() {
		names = append(names, d.Pod.Name+":"+string(d.Reasons[0]))
	}
	if got := strings.Join(names, " "); got != "rt-a:labels rt-b:labels" {
		t.Errorf("Drifted = %s", got)
	}

	// The pool grows to 8 CPU nodes: hetida2's per-node pod drifts, and
	// hetida's two drifted pods were sized for 4 CPU nodes too (a pod counts
	// under each of its reasons); found at the next periodic recompute.
	f.pool.Store(pool.Uniform(policy.DefaultPool, 3, pool.Shape{CPUMilli: 8000, MemBytes: 32 << 30}, 250))
	waitUntil(t, func() error {
		if !f.clk.HasWaiters() {
			return errors.New("the periodic timer is not armed")
		}
		return nil
	})
	f.clk.Step(DriftInterval)
	waitUntil(t, f.gauges(driftHelp+`hdscale_runtime_pods{namespace="hetida"} 3
hdscale_runtime_pods{namespace="hetida2"} 1
`+driftedHelp+`hdscale_runtime_pods_drifted{namespace="hetida",reason="labels"} 2
hdscale_runtime_pods_drifted{namespace="hetida",reason="pool-shape"} 2
hdscale_runtime_pods_drifted{namespace="hetida2",reason="pool-shape"} 1
`))

	// The drifted pods are replaced (the Deployment rolled): the series that
	// drop to zero go away, found after the pod events.
	for _, name := range []string{"rt-a", "rt-b"} {
		if err := f.client.CoreV1().Pods("hetida").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.client.CoreV1().Pods("hetida2").Delete(ctx, "rt-d", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, f.gauges(driftHelp+`hdscale_runtime_pods{namespace="hetida"} 1
`))
	if d := f.tracker.Drifted(); len(d) != 0 {
		t.Errorf("Drifted = %v, want none", d)
	}
}

func TestDriftTrackerRecompute(t *testing.T) {
	t.Parallel()
	perNode := nsLabels(policy.LabelPattern, "per-node")
	f := newDriftFixture(t, driftAdmitted(t, "hetida2", "rt-d", perNode, testPool))
	// Without Start the cache is empty: the gauges are empty too.
	if err := f.tracker.Recompute(); err != nil {
		t.Fatal(err)
	}
	if err := f.gauges("")(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := f.tracker.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Opting the namespace out, then recomputing on demand.
	f.namespaces.set("hetida2", nsLabels())
	if err := f.tracker.Recompute(); err != nil {
		t.Fatal(err)
	}
	if err := f.gauges(driftHelp + `hdscale_runtime_pods{namespace="hetida2"} 1
` + driftedHelp + `hdscale_runtime_pods_drifted{namespace="hetida2",reason="opted-out"} 1
`)(); err != nil {
		t.Fatal(err)
	}
	got := f.tracker.Drifted()
	if len(got) != 1 || got[0].Reasons[0] != drift.ReasonOptedOut {
		t.Fatalf("Drifted = %v", got)
	}
}

func TestNewDriftTrackerErrors(t *testing.T) {
	t.Parallel()
	pools := func(string) *pool.Pool { return nil }
	ns := StaticNamespaces{}
	m := NewMatcher(DefaultConfig())
	if _, err := NewDriftTracker(nil, DefaultSchedulerName, ns, pools, nil, m, nil, nil, logr.Discard()); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := NewDriftTracker(fake.NewClientset(), "", ns, pools, nil, m, nil, nil, logr.Discard()); err == nil {
		t.Error("empty scheduler name accepted")
	}
	reg := prometheus.NewRegistry()
	if _, err := NewDriftTracker(fake.NewClientset(), DefaultSchedulerName, ns, pools, nil, m, reg, nil, logr.Discard()); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDriftTracker(fake.NewClientset(), DefaultSchedulerName, ns, pools, nil, m, reg, nil, logr.Discard()); err == nil {
		t.Error("registering the drift metrics twice succeeded")
	}
}

// A namespace switched to hdscale.io/scheduler=default: the pods hdscale's
// scheduler placed would now go to the default scheduler, which is drift.
func TestDriftSchedulerSwitchedToDefault(t *testing.T) {
	t.Parallel()
	labels := nsLabels(policy.LabelPattern, "per-node")
	pod := driftAdmitted(t, "hetida", "rt-1", labels, testPool)
	checker := drift.Checker{Planner: NewDriftPlanner(NewMatcher(DefaultConfig()), DefaultSchedulerName),
		Pool: func(string) *pool.Pool { return testPool }}
	if d, ok := checker.Check(pod, labels); ok {
		t.Fatalf("up-to-date pod reported as drifted: %s", d)
	}
	d, ok := checker.Check(pod, nsLabels(policy.LabelPattern, "per-node", policy.LabelScheduler, "default"))
	if !ok {
		t.Fatal("switch to the default scheduler not reported as drift")
	}
	want := drift.Field{Field: "schedulerName", Now: DefaultSchedulerName, WouldBe: corev1.DefaultSchedulerName}
	found := false
	for _, f := range d.Fields {
		found = found || f == want
	}
	if !found {
		t.Errorf("fields %+v lack %+v", d.Fields, want)
	}
	if len(d.Reasons) != 1 || d.Reasons[0] != drift.ReasonLabels {
		t.Errorf("reasons %v, want [labels]", d.Reasons)
	}
}
