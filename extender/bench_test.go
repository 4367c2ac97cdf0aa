package extender

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/quantityguard"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

// inFlight is the number of distinct pods the benchmark cycles through: a
// burst of that many replicas whose reservations are live at once.
const inFlight = 100

// benchPod is a runtime replica as kube-scheduler sends it: labels, owner,
// env, volumes, tolerations, managed fields and status included.
func benchPod(i int) *v1.Pod {
	p := runtimePod("hetida", fmt.Sprintf("runtime-7d9f8c6b5-%05d", i), policy.PerCore, "runtime", 1000, 1000)
	p.UID = types.UID(fmt.Sprintf("7f0c0a52-1b1e-4c5e-9a3e-%012d", i))
	p.Labels = map[string]string{"app.kubernetes.io/name": "hetida-designer-runtime", "pod-template-hash": "7d9f8c6b5"}
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "runtime-7d9f8c6b5", UID: "rs-uid"}}
	p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{".":{},"f:app.kubernetes.io/name":{}}},"f:spec":{"f:containers":{}}}`)}}}
	c := &p.Spec.Containers[0]
	c.Image = "hetida/runtime:0.9.0"
	c.Ports = []v1.ContainerPort{{Name: "http", ContainerPort: 8090, Protocol: v1.ProtocolTCP}}
	c.Env = []v1.EnvVar{{Name: "WEB_CONCURRENCY", Value: "1"}, {Name: "MAX_WORKERS", Value: "1"}, {Name: "HD_BACKEND_API_URL", Value: "http://backend:8090/api"}}
	c.Resources.Requests[v1.ResourceMemory] = resource.MustParse("1Gi")
	c.VolumeMounts = []v1.VolumeMount{{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}}
	p.Spec.Volumes = []v1.Volume{{Name: "kube-api-access", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{}}}}
	p.Spec.Tolerations = []v1.Toleration{
		{Key: policy.NodePoolKey, Operator: v1.TolerationOpEqual, Value: "runtime", Effect: v1.TaintEffectNoSchedule},
		{Key: v1.TaintNodeNotReady, Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute},
	}
	p.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: v1.PodReasonUnschedulable}}
	return p
}

// benchEnv is an extender loaded with n equal pool nodes, each with a
// DaemonSet pod, a runtime replica on every other node and a fresh sample,
// and the request bodies for inFlight pods.
type benchEnv struct {
	e            *Extender
	h            http.Handler
	filter, prio [][]byte
}

// classic selects the classic exchange (FilterToWinner off): filter lists
// every passing node and prioritize picks; otherwise filter answers with the
// winner and kube-scheduler never calls prioritize.
func newBenchEnv(b *testing.B, n int, classic bool) *benchEnv {
	b.Helper()
	e, _, _ := newTestExtender(b, func(o *Options) { o.FilterToWinner = !classic })
	nodes := poolNodes("pool-node-abcdefgh", "runtime", n)
	var pods []*v1.Pod
	var samples []NodeSample
	for i, nd := range nodes {
		pods = append(pods, bound(plainPod("kube-system", "ds-"+nd.Name, 100), nd.Name, t0, t0))
		if i%2 == 0 {
			pods = append(pods, bound(runtimePod("hetida", "old-"+nd.Name, policy.PerCore, "runtime", 1000, 1000), nd.Name, t0.Add(-time.Hour), t0.Add(-time.Hour)))
		}
		samples = append(samples, sample(nd.Name, int64(i*37%3000), t0.Add(-5*time.Second)))
	}
	load(e, nodes, pods, samples)
	env := &benchEnv{e: e, h: e.Handler()}
	nn := names(nodes)
	for i := range inFlight {
		body, err := json.Marshal(extenderv1.ExtenderArgs{Pod: benchPod(i), NodeNames: &nn})
		if err != nil {
			b.Fatal(err)
		}
		env.filter = append(env.filter, body)
		env.prio = append(env.prio, body) // every node passes filter
	}
	// Check the answers once, outside the timer.
	fr := filterVia(b, env.h, benchPod(0), nn)
	if want := map[bool]int{true: n, false: 1}[classic]; len(*fr.NodeNames) != want {
		b.Fatalf("filter answered %d of %d nodes, want %d: %v", len(*fr.NodeNames), n, want, fr.FailedNodes)
	}
	if hp := prioritizeVia(b, env.h, benchPod(0), nn); len(hp) != 1 || hp[0].Score < 1 {
		b.Fatalf("prioritize returned %v, want the winner only", hp)
	}
	// Warm up: fill the explain ring, whose slots lend their node buffers to
	// later requests, so the benchmark measures the steady state.
	w := &discardWriter{h: http.Header{}}
	for i := range 2 * e.opts.ExplainHistory {
		env.serve(b, w, verbFilter, env.filter[i%inFlight])
		env.serve(b, w, verbPrioritize, env.prio[i%inFlight])
	}
	return env
}

// discardWriter is a reusable ResponseWriter that only checks the status.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(c int)   { w.code = c }
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(b)
	return len(b), nil
}

func (env *benchEnv) serve(b *testing.B, w *discardWriter, verb string, body []byte) {
	req, _ := http.NewRequest(http.MethodPost, "/"+verb, bytes.NewReader(body))
	req.Header = http.Header{"Content-Type": {"application/json"}}
	req.ContentLength = int64(len(body))
	w.code, w.n = 0, 0
	clear(w.h)
	env.h.ServeHTTP(w, req)
	if w.code != http.StatusOK {
		b.Fatalf("%s: status %d", verb, w.code)
	}
}

// BenchmarkFilterPrioritize measures one pod's scheduling cycle through the
// protocol handler at 100, 1,000 and 5,000 nodes, and reports the p50 and
// p99 per pod: mode=default is what kube-scheduler does with hdscale's
// defaults (decode a real ExtenderArgs body with NodeNames, filter and score
// every node, encode the one-node answer); mode=classic adds the prioritize
// call of the classic exchange (decode again, prioritize, encode).
func BenchmarkFilterPrioritize(b *testing.B) {
	for _, classic := range []bool{false, true} {
		mode := map[bool]string{false: "default", true: "classic"}[classic]
		for _, n := range []int{100, 1000, 5000} {
			b.Run(fmt.Sprintf("mode=%s/nodes=%d", mode, n), func(b *testing.B) {
				benchCycle(b, newBenchEnv(b, n, classic), classic)
			})
		}
	}
}

func benchCycle(b *testing.B, env *benchEnv, classic bool) {
	w := &discardWriter{h: http.Header{}}
	var walls, cpus []time.Duration
	i := 0
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start, cpu := time.Now(), threadCPU()
		env.serve(b, w, verbFilter, env.filter[i%inFlight])
		if classic {
			env.serve(b, w, verbPrioritize, env.prio[i%inFlight])
		}
		cpus = append(cpus, threadCPU()-cpu)
		walls = append(walls, time.Since(start))
		i++
	}
	b.StopTimer()
	reportPercentiles(b, walls, "")
	reportPercentiles(b, cpus, "cpu-")
}

// reportPercentiles reports the p50 and p99 of durs as <prefix>p50-ns/op
// and <prefix>p99-ns/op.
func reportPercentiles(b *testing.B, durs []time.Duration, prefix string) {
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), prefix+"p50-ns/op")
	b.ReportMetric(float64(durs[min(len(durs)-1, len(durs)*99/100)].Nanoseconds()), prefix+"p99-ns/op")
}

// BenchmarkDecide measures the decision alone (no JSON) at 5,000 nodes.
func BenchmarkDecide(b *testing.B) {
	env := newBenchEnv(b, 5000, true)
	snap := env.e.store.load()
	evs := make([]nodeEval, snap.Len())
	pods := make([]*v1.Pod, inFlight)
	for i := range pods {
		pods[i] = benchPod(i)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		for j := range evs {
			evs[j] = nodeEval{Name: snap.Node(int32(j)).Name, Idx: int32(j)}
		}
		env.e.decide(verbPrioritize, snap, pods[i%inFlight], evs, t0)
		i++
	}
}

// BenchmarkReserveBurst measures recording a reservation with 1,000 others
// in flight (the copy-on-write cost of a very large burst).
func BenchmarkReserveBurst(b *testing.B) {
	r := NewReservations(time.Minute)
	for i := range 1000 {
		r.Reserve(Reservation{UID: types.UID(fmt.Sprint(i)), Node: fmt.Sprintf("n-%d", i%5000)}, t0)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Reserve(Reservation{UID: types.UID(fmt.Sprint(i % 1000)), Node: fmt.Sprintf("n-%d", i%5000)}, t0)
		i++
	}
}

// BenchmarkSnapshotBuild measures publishing a snapshot of 5,000 nodes
// after one pod changed.
func BenchmarkSnapshotBuild(b *testing.B) {
	env := newBenchEnv(b, 5000, true)
	p := bound(plainPod("x", "flip", 100), "pool-node-abcdefgh-0", t0, t0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Spec.Containers[0].Resources.Requests[v1.ResourceCPU] = *resource.NewMilliQuantity(int64(100+i%2), resource.DecimalSI)
		env.e.setPod(p)
		env.e.store.rebuild()
		i++
	}
}

var calibrationSink int

// BenchmarkCalibrationByteLoop is a yardstick for a shared machine: a plain
// byte loop takes about 0.4 CPU-ns per byte on an idle 2.4 GHz core; a
// higher figure here shows how much the other benchmarks are inflated.
func BenchmarkCalibrationByteLoop(b *testing.B) {
	buf := bytes.Repeat([]byte("abcdefghij"), 100000)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU()
	n := 0
	for b.Loop() {
		for _, c := range buf {
			if c == '"' {
				n++
			}
		}
	}
	calibrationSink = n
	b.ReportMetric(float64(threadCPU()-c0)/float64(b.N)/float64(len(buf)), "cpu-ns/byte")
}

// cpuLoop runs f per iteration and reports the p50 and p99 of its thread
// CPU time.
func cpuLoop(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpus []time.Duration
	for b.Loop() {
		c := threadCPU()
		f()
		cpus = append(cpus, threadCPU()-c)
	}
	reportPercentiles(b, cpus, "cpu-")
}

// The phase benchmarks split one request at 5,000 nodes into decoding the
// body (the Pod from the cache, as for prioritize after filter), filter,
// prioritize (decide only) and encoding both answers.

// BenchmarkPhaseDecode/guard=decoded-values is the shipped decode (the
// quantity guard checks the Pod on a cache miss and Nodes);
// guard=whole-body runs the guard over the whole body first, as the
// extender did before, for the ratio.
func BenchmarkPhaseDecode(b *testing.B) {
	env := newBenchEnv(b, 5000, true)
	body := env.filter[0]
	b.Run("guard=decoded-values", func(b *testing.B) {
		d := argsDecoder{snap: env.e.store.load(), pods: &podCache{}}
		cpuLoop(b, func() { _, _ = d.decode(body) })
	})
	b.Run("guard=whole-body", func(b *testing.B) {
		d := argsDecoder{snap: env.e.store.load(), pods: &podCache{}}
		cpuLoop(b, func() {
			if quantityguard.Check(body) == nil {
				_, _ = d.decode(body)
			}
		})
	})
}

func BenchmarkPhaseFilter(b *testing.B) {
	env := newBenchEnv(b, 5000, true)
	snap := env.e.store.load()
	evs := make([]nodeEval, snap.Len())
	pod := benchPod(1)
	cpuLoop(b, func() {
		for j := range evs {
			evs[j] = nodeEval{Name: snap.names[j], Idx: int32(j)}
		}
		env.e.decide(verbFilter, snap, pod, evs, t0)
	})
}

func BenchmarkPhasePrioritize(b *testing.B) {
	env := newBenchEnv(b, 5000, true)
	snap := env.e.store.load()
	evs := make([]nodeEval, snap.Len())
	pod := benchPod(1)
	cpuLoop(b, func() {
		for j := range evs {
			evs[j] = nodeEval{Name: snap.names[j], Idx: int32(j)}
		}
		env.e.decide(verbPrioritize, snap, pod, evs, t0)
	})
}

func BenchmarkPhaseEncode(b *testing.B) {
	env := newBenchEnv(b, 5000, true)
	snap := env.e.store.load()
	evs := make([]nodeEval, snap.Len())
	for j := range evs {
		evs[j] = nodeEval{Name: snap.names[j], Idx: int32(j), Score: 5}
	}
	var out []byte
	cpuLoop(b, func() {
		out = appendPriorities(out[:0], evs, snap.hostPrefix)
		out, _ = appendFilterResult(out[:0], evs, snap.quoted, func(*nodeEval) string { return "" }, nil, -1)
	})
}
