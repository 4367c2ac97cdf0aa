package extender

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
	"unsafe"

	"github.com/go-logr/logr"
	"github.com/hdscale/hdscale/internal/policy"
	"github.com/prometheus/client_golang/prometheus"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	testingclock "k8s.io/utils/clock/testing"
)

// t0 is the fixtures' "now".
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const gi = int64(1) << 30

// node returns a Ready node in pool (no label when pool is "") with the
// given allocatable CPU (millicores) and memory (bytes).
func node(name, pool string, cpuMilli, memBytes int64, mods ...func(*v1.Node)) *v1.Node {
	n := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: v1.NodeStatus{
			Allocatable: v1.ResourceList{
				v1.ResourceCPU:    *resource.NewMilliQuantity(cpuMilli, resource.DecimalSI),
				v1.ResourceMemory: *resource.NewQuantity(memBytes, resource.BinarySI),
				v1.ResourcePods:   resource.MustParse("110"),
			},
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(t0)}},
		},
	}
	if pool != "" {
		n.Labels[policy.NodePoolKey] = pool
		n.Spec.Taints = []v1.Taint{{Key: policy.NodePoolKey, Value: pool, Effect: v1.TaintEffectNoSchedule}}
	}
	for _, m := range mods {
		m(n)
	}
	return n
}

// poolNodes returns n equal 4-CPU 16Gi nodes named prefix-0.. in pool.
func poolNodes(prefix, pool string, n int) []*v1.Node {
	out := make([]*v1.Node, n)
	for i := range out {
		out[i] = node(fmt.Sprintf("%s-%d", prefix, i), pool, 4000, 16*gi)
	}
	return out
}

// runtimePod returns an unbound runtime replica of namespace ns with the
// webhook's annotation for pattern in pool, requesting reqMilli and
// limited to limMilli CPU.
func runtimePod(ns, name string, pattern policy.Pattern, pool string, reqMilli, limMilli int64) *v1.Pod {
	a := policy.NewAnnotation(
		policy.Namespace{Pattern: pattern, Pool: pool, Mode: policy.ModeEnforce, Conflict: policy.ConflictFill, LabelsHash: "h"},
		policy.Sizing{CPURequestMilli: reqMilli, CPULimitMilli: limMilli, Workers: 1, NodeCPUMilli: 4000, Source: policy.SizedFromPool},
		[]string{"c"}, "hdscale-scheduler")
	p := plainPod(ns, name, reqMilli)
	p.Annotations = map[string]string{policy.AnnotationPolicy: a.Encode()}
	p.Spec.NodeSelector = map[string]string{policy.NodePoolKey: pool}
	p.Spec.SchedulerName = "hdscale-scheduler"
	p.Spec.Containers[0].Resources.Limits = v1.ResourceList{v1.ResourceCPU: *resource.NewMilliQuantity(limMilli, resource.DecimalSI)}
	return p
}

// plainPod returns an unbound pod without hdscale annotation.
func plainPod(ns, name string, reqMilli int64) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + ns + "-" + name), ResourceVersion: "10"},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "runtime",
			Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: *resource.NewMilliQuantity(reqMilli, resource.DecimalSI)}}}}},
		Status: v1.PodStatus{Phase: v1.PodPending},
	}
}

// bound returns a copy of p bound to nodeName, Running since started
// (zero: still Pending), scheduled at scheduled.
func bound(p *v1.Pod, nodeName string, scheduled, started time.Time) *v1.Pod {
	p = p.DeepCopy()
	p.Spec.NodeName = nodeName
	p.ResourceVersion = "20"
	p.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(scheduled)}}
	if !started.IsZero() {
		p.Status.Phase = v1.PodRunning
		p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "c", State: v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}}}
	}
	return p
}

// sample is a metrics sample of node taken at ts over a 15s window.
func sample(nodeName string, usageMilli int64, ts time.Time) NodeSample {
	return NodeSample{Node: nodeName, Sample: Sample{UsageMilli: usageMilli, Timestamp: ts, Window: 15 * time.Second}}
}

// newTestExtender returns an extender with a fake clock at t0 and a
// private registry.
func newTestExtender(t testing.TB, mods ...func(*Options)) (*Extender, *testingclock.FakeClock, *prometheus.Registry) {
	t.Helper()
	clk := testingclock.NewFakeClock(t0)
	o := Default()
	o.Clock = clk
	for _, m := range mods {
		m(&o)
	}
	reg := prometheus.NewRegistry()
	e, err := New(o, logr.Discard(), reg)
	if err != nil {
		t.Fatal(err)
	}
	return e, clk, reg
}

// load feeds nodes, pods and samples to e as informers and the poller
// would, then publishes a snapshot.
func load(e *Extender, nodes []*v1.Node, pods []*v1.Pod, samples []NodeSample) *Snapshot {
	for _, n := range nodes {
		e.setNode(n)
	}
	for _, p := range pods {
		e.setPod(p)
	}
	if len(samples) > 0 {
		e.store.update(func(b *Builder) bool { return b.SetSamples(samples) })
	}
	return e.store.rebuild()
}

func names(nodes []*v1.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}

// post sends args to verb through e's protocol handler.
func post(t testing.TB, h http.Handler, verb string, args extenderv1.ExtenderArgs) *httptest.ResponseRecorder {
	t.Helper()
	body, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/"+verb, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func filterVia(t testing.TB, h http.Handler, pod *v1.Pod, nodeNames []string) extenderv1.ExtenderFilterResult {
	t.Helper()
	rec := post(t, h, verbFilter, extenderv1.ExtenderArgs{Pod: pod, NodeNames: &nodeNames})
	if rec.Code != http.StatusOK {
		t.Fatalf("filter: %d %s", rec.Code, rec.Body)
	}
	var r extenderv1.ExtenderFilterResult
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("filter response %q: %v", rec.Body, err)
	}
	return r
}

func prioritizeVia(t testing.TB, h http.Handler, pod *v1.Pod, nodeNames []string) extenderv1.HostPriorityList {
	t.Helper()
	rec := post(t, h, verbPrioritize, extenderv1.ExtenderArgs{Pod: pod, NodeNames: &nodeNames})
	if rec.Code != http.StatusOK {
		t.Fatalf("prioritize: %d %s", rec.Code, rec.Body)
	}
	var r extenderv1.HostPriorityList
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("prioritize response %q: %v", rec.Body, err)
	}
	return r
}

// evalCtxFor is the pure decision context for pod over snap.
func evalCtxFor(t testing.TB, snap *Snapshot, res *Reservations, pod *v1.Pod, now time.Time, o Options) *evalCtx {
	t.Helper()
	pc, kind, msg := classify(pod)
	if kind != kindRuntime {
		t.Fatalf("pod %s is %s: %s", pod.Name, kind, msg)
	}
	if res == nil {
		res = NewReservations(o.ReservationTTL)
	}
	return newEvalCtx(snap, res.load(), &pc, now, &o)
}

// evsFor returns the evaluation slots for names over snap.
func evsFor(snap *Snapshot, nodeNames ...string) []nodeEval {
	evs := make([]nodeEval, len(nodeNames))
	for i, n := range nodeNames {
		idx, ok := snap.Lookup(n)
		if !ok {
			idx = -1
		}
		evs[i] = nodeEval{Name: n, Idx: idx}
	}
	return evs
}

func byName(evs []nodeEval) map[string]nodeEval {
	m := make(map[string]nodeEval, len(evs))
	for _, ev := range evs {
		m[ev.Name] = ev
	}
	return m
}

func typesUID(s string) types.UID { return types.UID(s) }

// unsafeData is the address of s's bytes (to check interning).
func unsafeData(s string) *byte { return unsafe.StringData(s) }
