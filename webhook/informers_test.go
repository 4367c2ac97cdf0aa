package webhook

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
)

func namespaceObj(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// waitFor polls cond (a condition, not a timing assumption) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 5*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func TestInformersNotReadyUntilSynced(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset(namespaceObj(testNamespace, perNode))
	release := make(chan struct{})
	listing := make(chan struct{}, 1)
	client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		select {
		case listing <- struct{}{}:
		default:
		}
		<-release
		return false, nil, nil // fall through to the tracker
	})
	met, _ := NewMetrics(nil)
	inf, err := NewInformers(client, 0, pool.DefaultShapeTolerance, met, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := inf.Ready(); err == nil {
		t.Fatal("ready before start")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	started := make(chan error, 1)
	go func() { started <- inf.Start(ctx) }()
	<-listing // the node list is in flight and blocked
	err = inf.Ready()
	if err == nil || !strings.Contains(err.Error(), "nodes") {
		t.Fatalf("Ready() = %v while the node list is blocked, want an error naming nodes", err)
	}
	m := &Mutator{Matcher: NewMatcher(DefaultConfig()), Namespaces: inf.Namespaces(), Pools: inf, SchedulerName: DefaultSchedulerName, Ready: inf.Ready}
	resp, out := m.Admit(podRequest(readCase(t, "compose-runtime")))
	if resp.Allowed || resp.Result.Code != http.StatusServiceUnavailable || out.Reason != ReasonNotReady {
		t.Fatalf("admission before sync: %+v %+v", resp.Result, out)
	}
	close(release)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if err := inf.Ready(); err != nil {
		t.Fatalf("Ready() after sync = %v", err)
	}
	resp, _ = m.Admit(podRequest(readCase(t, "compose-runtime")))
	if !resp.Allowed || len(resp.Patch) == 0 {
		t.Fatalf("admission after sync: %+v", resp)
	}
	if err := inf.Start(ctx); err == nil {
		t.Error("second Start accepted")
	}
}

func TestInformersStopBeforeSync(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset()
	block := make(chan struct{})
	defer close(block)
	client.PrependReactor("list", "daemonsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		<-block
		return false, nil, nil
	})
	inf, err := NewInformers(client, 0, pool.DefaultShapeTolerance, nil, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := inf.Start(ctx); err == nil {
		t.Fatal("Start returned nil although ctx ended before the caches synced")
	}
}

func TestInformersPoolShapes(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset(
		namespaceObj(testNamespace, perNode),
		poolNode("r1", "runtime", "4"),
		poolNode("r2", "runtime", "8"),
		poolNode("g1", "gpu", "16"),
		poolNode("w1", "", "32"),
		daemonSet("kube-proxy", "100m", tolerateAll),
		daemonSet("fluent-bit", "150m", tolerateAll),
	)
	met, _ := NewMetrics(nil)
	inf, err := NewInformers(client, 0, pool.DefaultShapeTolerance, met, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := inf.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// r1 (4 CPU) and r2 (8 CPU) tie: the reference is the smaller, r2 is an outlier.
	if got := inf.Pool("runtime"); got == nil || got.Ref.CPUMilli != 4000 || got.Members != 1 || len(got.Outliers) != 1 ||
		got.Outliers[0].Name != "r2" || got.ReservedCPUMilli != 250 {
		t.Errorf("runtime = %+v", got)
	}
	if got := inf.Pool("absent"); got != nil {
		t.Errorf("absent pool = %+v", got)
	}
	if got := testutil.ToFloat64(met.poolOutliers.WithLabelValues("runtime")); got != 1 {
		t.Errorf("pool_outlier_nodes{runtime} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(met.poolOutliers.WithLabelValues("gpu")); got != 0 {
		t.Errorf("pool_outlier_nodes{gpu} = %v, want 0", got)
	}
	ns, err := inf.Namespaces().Get(testNamespace)
	if err != nil || ns.Labels[policy.LabelPattern] != "per-node" {
		t.Fatalf("namespace from cache: %v %v", ns, err)
	}

	// Events: a cordon, a new node and a new DaemonSet change the shape.
	ctx := t.Context()
	r2 := poolNode("r2", "runtime", "8", cordoned)
	if _, err := client.CoreV1().Nodes().Update(ctx, r2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cordon", func() bool { return inf.Pool("runtime").Usable == 1 })
	if got := inf.Pool("runtime"); len(got.Outliers) != 0 || got.Ref.CPUMilli != 4000 || len(got.Unusable) != 1 {
		t.Errorf("after cordon: %+v", got)
	}
	waitFor(t, "pool_outlier_nodes to drop", func() bool { return testutil.ToFloat64(met.poolOutliers.WithLabelValues("runtime")) == 0 })
	if _, err := client.AppsV1().DaemonSets("kube-system").Create(ctx, daemonSet("csi", "300m", tolerateAll), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the DaemonSet", func() bool { return inf.Pool("runtime").ReservedCPUMilli == 550 })
	if err := client.CoreV1().Nodes().Delete(ctx, "g1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the gpu pool to vanish", func() bool { _, ok := inf.Pools()["gpu"]; return !ok })
	if n := testutil.CollectAndCount(met.poolNodes); n != 1 {
		t.Errorf("pool_nodes series = %d, want 1 (gpu deleted)", n)
	}
}

func TestNodeShapeChanged(t *testing.T) {
	t.Parallel()
	base := poolNode("n", "runtime", "4")
	heartbeat := base.DeepCopy()
	heartbeat.Status.Conditions[0].LastHeartbeatTime = metav1.Now()
	heartbeat.ResourceVersion = "2"
	if nodeShapeChanged(base, heartbeat) {
		t.Error("a heartbeat counts as a shape change")
	}
	other := poolNode("w", "", "4")
	otherUpdated := other.DeepCopy()
	otherUpdated.Status.Allocatable[corev1.ResourceCPU] = otherUpdated.Status.Allocatable[corev1.ResourceCPU]
	otherUpdated.Spec.Unschedulable = true
	if nodeShapeChanged(other, otherUpdated) {
		t.Error("a non-pool node's change counts")
	}
	for name, mutate := range map[string]func(*corev1.Node){
		"cordon":      cordoned,
		"not ready":   notReady,
		"allocatable": func(n *corev1.Node) { n.Status.Allocatable[corev1.ResourceCPU] = *resourceQuantity("3") },
		"label":       withLabel("zone", "b"),
		"pool":        withLabel(policy.NodePoolKey, "gpu"),
		"taint":       func(n *corev1.Node) { n.Spec.Taints = nil },
		"leaves pool": func(n *corev1.Node) { delete(n.Labels, policy.NodePoolKey) },
	} {
		n := base.DeepCopy()
		mutate(n)
		if !nodeShapeChanged(base, n) {
			t.Errorf("%s not detected", name)
		}
	}
}
