package extender

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	"sigs.k8s.io/yaml"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
)

// A decision fuzz scenario is a cluster snapshot and a runtime pod to place,
// decoded from bytes (missing bytes read as zero) so that the fuzzer mutates
// numbers and flags rather than YAML:
//
//	header  pod byte (pattern | namespace<<2 | pool<<4 | ghost<<6 | unsized<<7),
//	        u16 request, u16 limit, u16 sidecar request (millicores),
//	        hot byte (0: off, else threshold (b%100+1)%), tolerance byte,
//	        node count byte
//	node    flags byte (pool | cordoned<<2 | notReady<<3 | deleting<<4 |
//	        unreachable<<5 | sample<<6 | noCPU<<7), u32 CPU millicores,
//	        u32 memory MiB, sample age byte (seconds), u32 usage
//	        millicores, pod count byte
//	pod     kind byte (kind | namespace<<2 | pool<<4 | running<<6 | own<<7),
//	        pattern byte, u16 request millicores, age byte (seconds)
//
// Pods on a node are bound runtime replicas, terminal ones, plain pods or
// reservations (own: the placed pod's own, from an earlier attempt).
const (
	decideFuzzMaxNodes = 8
	decideFuzzMaxPods  = 5
)

var (
	decideFuzzNamespaces = [...]string{"hetida", "team", "other", "x"}
	decideFuzzPodPools   = [...]string{"runtime", "gpu", "empty", "mixed"}
	decideFuzzNodePools  = [...]string{"", "runtime", "gpu", "mixed"}
	decideFuzzTolerances = [...]float64{pool.DefaultShapeTolerance, 0, 0.1, 0.25}
)

// Kinds of the pods on a fuzzed node.
const (
	fuzzPlain uint8 = iota
	fuzzRuntime
	fuzzTerminal // a Succeeded runtime replica
	fuzzReservation
)

type fuzzPod struct {
	Kind, NS, Pool, Pattern uint8
	Running, Own            bool
	ReqMilli                uint16
	AgeSec                  uint8
}

type fuzzNode struct {
	Pool                                      uint8
	Cordoned, NotReady, Deleting, Unreachable bool
	HasSample, NoCPU                          bool
	CPUMilli, MemMiB, UsageMilli              uint32
	SampleAgeSec                              uint8
	Pods                                      []fuzzPod
}

type fuzzScenario struct {
	Pattern, NS, Pool                uint8
	Ghost, Unsized                   bool
	ReqMilli, LimMilli, SidecarMilli uint16
	Hot, Tol                         uint8
	Nodes                            []fuzzNode
}

type fuzzReader struct{ b []byte }

func (r *fuzzReader) u8() uint8 {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *fuzzReader) u16() uint16 { return uint16(r.u8()) | uint16(r.u8())<<8 }
func (r *fuzzReader) u32() uint32 { return uint32(r.u16()) | uint32(r.u16())<<16 }

func bit(b uint8, i uint) bool { return b&(1<<i) != 0 }

func bitIf(v bool, i uint) uint8 {
	if v {
		return 1 << i
	}
	return 0
}

func decodeScenario(data []byte) fuzzScenario {
	r := &fuzzReader{data}
	var s fuzzScenario
	h := r.u8()
	s.Pattern, s.NS, s.Pool, s.Ghost, s.Unsized = h&3, h>>2&3, h>>4&3, bit(h, 6), bit(h, 7)
	s.ReqMilli, s.LimMilli, s.SidecarMilli = r.u16(), r.u16(), r.u16()
	s.Hot, s.Tol = r.u8(), r.u8()
	s.Nodes = make([]fuzzNode, int(r.u8())%(decideFuzzMaxNodes+1))
	for i := range s.Nodes {
		n := &s.Nodes[i]
		f := r.u8()
		n.Pool, n.Cordoned, n.NotReady, n.Deleting, n.Unreachable, n.HasSample, n.NoCPU =
			f&3, bit(f, 2), bit(f, 3), bit(f, 4), bit(f, 5), bit(f, 6), bit(f, 7)
		n.CPUMilli, n.MemMiB, n.SampleAgeSec, n.UsageMilli = r.u32(), r.u32(), r.u8(), r.u32()
		n.Pods = make([]fuzzPod, int(r.u8())%(decideFuzzMaxPods+1))
		for j := range n.Pods {
			p := &n.Pods[j]
			k := r.u8()
			p.Kind, p.NS, p.Pool, p.Running, p.Own = k&3, k>>2&3, k>>4&3, bit(k, 6), bit(k, 7)
			p.Pattern, p.ReqMilli, p.AgeSec = r.u8(), r.u16(), r.u8()
		}
	}
	return s
}

func (s fuzzScenario) encode() []byte {
	b := []byte{s.Pattern&3 | (s.NS&3)<<2 | (s.Pool&3)<<4 | bitIf(s.Ghost, 6) | bitIf(s.Unsized, 7)}
	b = binary.LittleEndian.AppendUint16(b, s.ReqMilli)
	b = binary.LittleEndian.AppendUint16(b, s.LimMilli)
	b = binary.LittleEndian.AppendUint16(b, s.SidecarMilli)
	b = append(b, s.Hot, s.Tol, uint8(len(s.Nodes)))
	for _, n := range s.Nodes {
		b = append(b, n.Pool&3|bitIf(n.Cordoned, 2)|bitIf(n.NotReady, 3)|bitIf(n.Deleting, 4)|bitIf(n.Unreachable, 5)|bitIf(n.HasSample, 6)|bitIf(n.NoCPU, 7))
		b = binary.LittleEndian.AppendUint32(b, n.CPUMilli)
		b = binary.LittleEndian.AppendUint32(b, n.MemMiB)
		b = append(b, n.SampleAgeSec)
		b = binary.LittleEndian.AppendUint32(b, n.UsageMilli)
		b = append(b, uint8(len(n.Pods)))
		for _, p := range n.Pods {
			b = append(b, p.Kind&3|(p.NS&3)<<2|(p.Pool&3)<<4|bitIf(p.Running, 6)|bitIf(p.Own, 7), p.Pattern)
			b = binary.LittleEndian.AppendUint16(b, p.ReqMilli)
			b = append(b, p.AgeSec)
		}
	}
	return b
}

func fuzzNodeName(i int) string { return fmt.Sprintf("n%02d", i) }

// fuzzRuntimePod is an unbound runtime replica of namespace ns as the
// webhook admits it: reqMilli/limMilli per runtime container (0: not set),
// a sidecar requesting sidecarMilli (0: none).
func fuzzRuntimePod(ns, name string, pattern policy.Pattern, poolName string, reqMilli, limMilli, sidecarMilli int64, unsized bool) *v1.Pod {
	sz := policy.Sizing{CPURequestMilli: reqMilli, CPULimitMilli: limMilli, Workers: 1, NodeCPUMilli: 4000, Source: policy.SizedFromPool}
	if unsized {
		sz = policy.Sizing{Source: policy.Unsized}
	}
	a := policy.NewAnnotation(policy.Namespace{Pattern: pattern, Pool: poolName, Mode: policy.ModeEnforce, Conflict: policy.ConflictFill, LabelsHash: "h"},
		sz, []string{"c"}, "hdscale-scheduler")
	p := plainPod(ns, name, reqMilli)
	if reqMilli == 0 {
		p.Spec.Containers[0].Resources.Requests = nil
	}
	if limMilli > 0 {
		p.Spec.Containers[0].Resources.Limits = v1.ResourceList{v1.ResourceCPU: *resource.NewMilliQuantity(limMilli, resource.DecimalSI)}
	}
	if sidecarMilli > 0 {
		p.Spec.Containers = append(p.Spec.Containers, v1.Container{Name: "sidecar", Resources: v1.ResourceRequirements{
			Requests: v1.ResourceList{v1.ResourceCPU: *resource.NewMilliQuantity(sidecarMilli, resource.DecimalSI)}}})
	}
	p.Annotations = map[string]string{policy.AnnotationPolicy: a.Encode()}
	p.Spec.NodeSelector = map[string]string{policy.NodePoolKey: poolName}
	p.Spec.SchedulerName = "hdscale-scheduler"
	return p
}

// fuzzCluster is a scenario turned into objects.
type fuzzCluster struct {
	in     Input
	res    *Reservations
	pod    *v1.Pod
	group  groupKey
	names  []string // the candidates: every node, then "ghost" when asked
	tol    float64
	hot    float64
	expect []fuzzExpect // per node
}

// fuzzExpect is what the scenario says about one node, worked out without
// the snapshot: the pod's group's replicas and all runtime replicas on it,
// reservations included.
type fuzzExpect struct {
	facts                  pool.Node
	groupReplicas, runtime int32
}

func (s fuzzScenario) cluster(ttl time.Duration) fuzzCluster {
	c := fuzzCluster{tol: decideFuzzTolerances[s.Tol%uint8(len(decideFuzzTolerances))], res: NewReservations(ttl)}
	if s.Hot != 0 {
		c.hot = float64(s.Hot%100+1) / 100
	}
	ns, poolName := decideFuzzNamespaces[s.NS], decideFuzzPodPools[s.Pool]
	c.group = groupKey{Namespace: ns, Pool: poolName}
	c.pod = fuzzRuntimePod(ns, "new", policy.Patterns[int(s.Pattern)%len(policy.Patterns)], poolName,
		int64(s.ReqMilli), int64(s.LimMilli), int64(s.SidecarMilli), s.Unsized)
	c.in = Input{Now: t0, ShapeTolerance: c.tol}
	for i, fn := range s.Nodes {
		name := fuzzNodeName(i)
		n := node(name, decideFuzzNodePools[fn.Pool], int64(fn.CPUMilli), int64(fn.MemMiB)<<20)
		if fn.Cordoned {
			n.Spec.Unschedulable = true
		}
		if fn.NotReady {
			n.Status.Conditions[0].Status = v1.ConditionFalse
		}
		if fn.Deleting {
			ts := metav1.NewTime(t0)
			n.DeletionTimestamp = &ts
		}
		if fn.Unreachable {
			n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: v1.TaintNodeUnreachable, Effect: v1.TaintEffectNoExecute})
		}
		if fn.NoCPU {
			delete(n.Status.Allocatable, v1.ResourceCPU)
		}
		c.in.Nodes = append(c.in.Nodes, n)
		c.names = append(c.names, name)
		if fn.HasSample {
			c.in.Samples = append(c.in.Samples, sample(name, int64(fn.UsageMilli), t0.Add(-time.Duration(fn.SampleAgeSec)*time.Second)))
		}
		ex := fuzzExpect{facts: pool.NodeFrom(n)}
		for j, fp := range fn.Pods {
			pns, ppool := decideFuzzNamespaces[fp.NS], decideFuzzPodPools[fp.Pool]
			age := time.Duration(fp.AgeSec) * time.Second
			inGroup := groupKey{Namespace: pns, Pool: ppool} == c.group
			podName := fmt.Sprintf("p%02d-%d", i, j)
			switch fp.Kind {
			case fuzzPlain:
				c.in.Pods = append(c.in.Pods, bindPod(plainPod(pns, podName, int64(fp.ReqMilli)), name, t0.Add(-age), time.Time{}))
			case fuzzRuntime, fuzzTerminal:
				// Unsized without a request, else sized: a valid annotation.
				p := fuzzRuntimePod(pns, podName, policy.Patterns[int(fp.Pattern)%len(policy.Patterns)], ppool, int64(fp.ReqMilli), int64(fp.ReqMilli), 0, fp.ReqMilli == 0)
				started := time.Time{}
				if fp.Running {
					started = t0.Add(-age / 2)
				}
				bindPod(p, name, t0.Add(-age), started)
				if fp.Kind == fuzzTerminal {
					p.Status.Phase = v1.PodSucceeded
				} else {
					ex.runtime++
					if inGroup {
						ex.groupReplicas++
					}
				}
				c.in.Pods = append(c.in.Pods, p)
			case fuzzReservation:
				uid := types.UID("res-" + podName)
				if fp.Own {
					uid = c.pod.UID
				}
				c.res.Reserve(Reservation{UID: uid, Namespace: pns, Name: podName, Node: name, Group: groupKey{Namespace: pns, Pool: ppool},
					EstimateMilli: int64(fp.ReqMilli), RequestMilli: int64(fp.ReqMilli)}, t0.Add(-age))
				if !fp.Own && age < ttl {
					ex.runtime++
					if inGroup {
						ex.groupReplicas++
					}
				}
			}
		}
		c.expect = append(c.expect, ex)
	}
	if s.Ghost {
		c.names = append(c.names, "ghost")
	}
	return c
}

// bindPod is bound without the copy: p bound to nodeName, Running since
// started (zero: still Pending), scheduled at scheduled.
func bindPod(p *v1.Pod, nodeName string, scheduled, started time.Time) *v1.Pod {
	p.Spec.NodeName = nodeName
	p.ResourceVersion = "20"
	p.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(scheduled)}}
	if !started.IsZero() {
		p.Status.Phase = v1.PodRunning
		p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "c", State: v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}}}
	}
	return p
}

// scenarioFromGolden turns a golden case (testdata/cases) into a scenario,
// as closely as the scenario's tables allow.
func scenarioFromGolden(gc *goldenCase) fuzzScenario {
	index := func(table []string, v string) uint8 { return uint8(max(slices.Index(table, v), 0)) }
	var s fuzzScenario
	if _, pl, err := policy.ParseAnnotation(gc.Pod.Annotations[policy.AnnotationPolicy]); err == nil {
		s.Pattern = uint8(slices.Index(policy.Patterns, pl.Pattern))
		s.Pool = index(decideFuzzPodPools[:], pl.Pool)
		s.ReqMilli, s.LimMilli = uint16(min(pl.CPURequestMilli, 65535)), uint16(min(pl.CPULimitMilli, 65535))
		s.Unsized = pl.CPURequestMilli == 0
	}
	s.NS = index(decideFuzzNamespaces[:], gc.Pod.Namespace)
	if total := pool.PodCPURequestMilli(&gc.Pod); total > int64(s.ReqMilli) {
		s.SidecarMilli = uint16(min(total-int64(s.ReqMilli), 65535))
	}
	for i := range gc.Nodes {
		n := &gc.Nodes[i]
		facts := pool.NodeFrom(n)
		fn := fuzzNode{Pool: index(decideFuzzNodePools[:], facts.Pool), CPUMilli: uint32(min(facts.Shape.CPUMilli, 1<<32-1)),
			MemMiB: uint32(min(facts.Shape.MemBytes>>20, 1<<32-1)), Cordoned: n.Spec.Unschedulable, Deleting: n.DeletionTimestamp != nil,
			NoCPU: facts.Unusable == pool.UnusableNoCPU, NotReady: facts.Unusable == pool.UnusableNotReady, Unreachable: facts.Unusable == pool.UnusableTainted}
		for _, smp := range gc.Samples {
			if smp.Node == n.Name {
				fn.HasSample, fn.SampleAgeSec, fn.UsageMilli = true, uint8(min(smp.AgeSeconds, 255)), uint32(min(smp.UsageMilli, 1<<32-1))
			}
		}
		for j := range gc.Pods {
			p := &gc.Pods[j]
			if p.Spec.NodeName != n.Name {
				continue
			}
			fp := fuzzPod{Kind: fuzzPlain, NS: index(decideFuzzNamespaces[:], p.Namespace), ReqMilli: uint16(min(pool.PodCPURequestMilli(p), 65535)),
				Running: p.Status.Phase == v1.PodRunning, AgeSec: 60}
			if _, pl, err := policy.ParseAnnotation(p.Annotations[policy.AnnotationPolicy]); err == nil {
				fp.Kind, fp.Pattern, fp.Pool = fuzzRuntime, uint8(slices.Index(policy.Patterns, pl.Pattern)), index(decideFuzzPodPools[:], pl.Pool)
				if p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed {
					fp.Kind = fuzzTerminal
				}
			}
			fn.Pods = append(fn.Pods, fp)
		}
		s.Nodes = append(s.Nodes, fn)
	}
	return s
}

// decideFuzzSeeds are the scenarios of the filter and score tests.
func decideFuzzSeeds() []fuzzScenario {
	rt := func(cpu uint32, pods ...fuzzPod) fuzzNode {
		return fuzzNode{Pool: 1, CPUMilli: cpu, MemMiB: 16 << 10, Pods: pods}
	}
	rep := func(pattern uint8, req uint16) fuzzPod {
		return fuzzPod{Kind: fuzzRuntime, NS: 1, Pattern: pattern, ReqMilli: req, Running: true, AgeSec: 60}
	}
	sampled := func(n fuzzNode, usage uint32, age uint8) fuzzNode {
		n.HasSample, n.UsageMilli, n.SampleAgeSec = true, usage, age
		return n
	}
	// filterFixture: r-0..r-2, big, near, gpu-0, plain.
	fixture := []fuzzNode{rt(4000), rt(4000), rt(4000), {Pool: 1, CPUMilli: 8000, MemMiB: 32 << 10}, {Pool: 1, CPUMilli: 4100, MemMiB: 16<<10 - 200},
		{Pool: 2, CPUMilli: 4000, MemMiB: 16 << 10}, {CPUMilli: 4000, MemMiB: 16 << 10}}
	perCore := fuzzScenario{Pattern: 2, NS: 1, ReqMilli: 1000, LimMilli: 1000, Nodes: fixture, Ghost: true}
	perNode := fuzzScenario{Pattern: 0, NS: 1, ReqMilli: 3800, LimMilli: 4000}
	perNode.Nodes = []fuzzNode{rt(4000, rep(0, 1000)), rt(4000, fuzzPod{Kind: fuzzRuntime, NS: 2, Pattern: 0, ReqMilli: 3800}), rt(4000)}
	single := perNode
	single.Pattern = 1
	single.Nodes = []fuzzNode{rt(4000), rt(4000, rep(1, 1000))}
	capped := perCore
	capped.Ghost, capped.Tol = false, 0
	capped.Nodes = []fuzzNode{rt(4000, rep(2, 1000), rep(2, 1000), rep(2, 1000), rep(2, 1000)), rt(4000, rep(2, 1000), rep(2, 1000), rep(2, 1000)),
		{Pool: 1, CPUMilli: 4100, MemMiB: 16<<10 - 200, Pods: []fuzzPod{rep(2, 1000), rep(2, 1000), rep(2, 1000), rep(2, 1000)}}}
	huge := perCore
	huge.ReqMilli, huge.LimMilli, huge.Nodes = 5000, 5000, fixture[:1]
	reserved := perNode
	reserved.Nodes = []fuzzNode{rt(4000, fuzzPod{Kind: fuzzReservation, NS: 1, ReqMilli: 3800}),
		rt(4000, fuzzPod{Kind: fuzzReservation, NS: 1, ReqMilli: 3800, Own: true}, fuzzPod{Kind: fuzzReservation, NS: 2, ReqMilli: 3800, AgeSec: 90})}
	hot := perCore
	hot.Hot, hot.Ghost = 79, false // 80%
	hot.Nodes = []fuzzNode{sampled(rt(4000), 3600, 5), sampled(rt(4000), 400, 5), sampled(rt(4000), 1000, 5)}
	allHot := hot
	allHot.Nodes = []fuzzNode{sampled(rt(4000), 3600, 5), sampled(rt(4000), 3900, 5), sampled(rt(4000), 4000, 5)}
	staleHot := hot
	staleHot.Nodes = []fuzzNode{sampled(rt(4000), 4000, 255), sampled(rt(4000), 400, 5), sampled(rt(4000), 400, 5)}
	unusable := perCore
	unusable.SidecarMilli, unusable.Ghost = 100, false
	r0 := rt(4000, rep(2, 1100), rep(2, 1100), rep(2, 1100))
	unusable.Nodes = []fuzzNode{r0, rt(4000), {Pool: 1, CPUMilli: 4000, MemMiB: 16 << 10, Cordoned: true},
		{Pool: 1, CPUMilli: 4000, MemMiB: 16 << 10, Deleting: true}, {Pool: 1, CPUMilli: 4000, MemMiB: 16 << 10, Unreachable: true},
		{Pool: 1, CPUMilli: 4000, MemMiB: 16 << 10, NotReady: true}, {Pool: 1, MemMiB: 16 << 10, NoCPU: true}}
	unsized := perNode
	unsized.Unsized, unsized.ReqMilli, unsized.LimMilli = true, 0, 0
	unsized.Nodes = []fuzzNode{rt(4000, fuzzPod{Kind: fuzzTerminal, NS: 1, ReqMilli: 1000}, fuzzPod{Kind: fuzzPlain, NS: 1, ReqMilli: 3000}), rt(4000)}
	return []fuzzScenario{perCore, perNode, single, capped, huge, reserved, hot, allHot, staleHot, unusable, unsized, {}}
}

// FuzzDecide runs the extender's decision path, filter and then
// prioritize's score, exactly as a request does (Build, newEvalCtx, filter,
// score, the wire encoders), over fuzzed cluster snapshots: nodes with
// fuzzed allocatable CPU and memory, pool labels, cordon, NotReady,
// deletion, unreachable taints; bound runtime replicas (any namespace, pool,
// pattern), terminal and plain pods and reservations per node; fuzzed
// NodeMetrics samples; a runtime pod of fuzzed pattern, namespace, pool and
// CPU. Seeded with the filter and score tests' clusters and the golden
// cases. It checks, against expectations worked out from the scenario
// without the snapshot: no panic; a node passes filter only if it is a
// member of the pod's pool (pool.Summarize + Pool.Member), fits one replica
// and holds fewer than policy Pattern.MaxPerNode replicas of the pod's
// group (bound non-terminal replicas plus unexpired reservations other than
// the pod's own), and every such node passes unless rejected as hot (never
// all of them); the replica counts filter reports are those; failed nodes
// each have a non-empty reason, in the encoded ExtenderFilterResult too,
// which lists every candidate exactly once; scores are within
// 0..MaxExtenderPriority, non-zero only for nodes passing the hard rules,
// with a unique maximum at the winner, and the encoded HostPriorityList
// carries them; filter and score assess every node alike.
func FuzzDecide(f *testing.F) {
	for _, s := range decideFuzzSeeds() {
		f.Add(s.encode())
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "cases", "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var gc goldenCase
		if err := yaml.UnmarshalStrict(data, &gc); err != nil {
			f.Fatalf("%s: %v", file, err)
		}
		f.Add(scenarioFromGolden(&gc).encode())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecide(t, decodeScenario(data))
	})
}

func checkDecide(t *testing.T, s fuzzScenario) {
	o := Default()
	c := s.cluster(o.ReservationTTL)
	o.ShapeTolerance, o.HotThreshold = c.tol, c.hot
	snap := Build(c.in)
	pc, kind, msg := classify(c.pod)
	if kind != kindRuntime {
		if kind != kindInvalid || msg == "" {
			t.Fatalf("the fuzzed runtime pod is %s: %q", kind, msg)
		}
		return // its unsized or zero CPU annotation is invalid: placed nowhere
	}

	// Expectations, from the scenario and the pool package.
	facts := make([]pool.Node, len(c.expect))
	for i := range c.expect {
		facts[i] = c.expect[i].facts
	}
	p := pool.Summarize(facts, c.tol)[c.group.Pool]
	pattern := policy.Patterns[int(s.Pattern)%len(policy.Patterns)]
	reqMilli := pool.PodCPURequestMilli(c.pod)
	if reqMilli == 0 {
		_, pl, _ := policy.ParseAnnotation(c.pod.Annotations[policy.AnnotationPolicy])
		reqMilli = pl.CPURequestMilli
	}
	eligible := func(i int) bool { // the hard rules
		if i >= len(c.expect) {
			return false // the ghost
		}
		ex := &c.expect[i]
		cpu := ex.facts.Shape.CPUMilli
		return p != nil && p.Member(ex.facts) && reqMilli <= cpu && int(ex.groupReplicas) < pattern.MaxPerNode(cpu, reqMilli)
	}

	// Filter.
	ctx := newEvalCtx(snap, c.res.load(), &pc, t0, &o)
	defer ctx.release()
	evs := evsFor(snap, c.names...)
	fr := ctx.filter(evs)
	passed, anyEligible := 0, false
	for i := range evs {
		ev := &evs[i]
		ok := eligible(i)
		anyEligible = anyEligible || ok
		if i < len(c.expect) && (ev.Replicas != c.expect[i].groupReplicas || ev.RuntimePods != c.expect[i].runtime) {
			t.Fatalf("%s: replicas %d of %d runtime pods, want %d of %d", ev.Name, ev.Replicas, ev.RuntimePods, c.expect[i].groupReplicas, c.expect[i].runtime)
		}
		switch {
		case ev.Verdict == vPass:
			passed++
			if !ok {
				t.Fatalf("%s passed filter but is not eligible: %+v (member %v, cap %d, request %dm)", ev.Name, *ev, p != nil && i < len(facts) && p.Member(facts[i]),
					pattern.MaxPerNode(int64(ev.AllocMilli), reqMilli), reqMilli)
			}
			if ev.Score < 0 || int64(ev.Score) > extenderv1.MaxExtenderPriority {
				t.Fatalf("%s: filter score %d", ev.Name, ev.Score)
			}
		case ev.Reason == rNone || ctx.text(ev.Reason) == "":
			t.Fatalf("%s failed (%v) without a reason", ev.Name, ev.Verdict)
		case ev.Reason == rHot:
			if !ok || c.hot == 0 || !ev.Live || float64(ev.Util) < c.hot-1e-6 || ev.Verdict != vFail {
				t.Fatalf("%s rejected as hot: %+v (hot threshold %g)", ev.Name, *ev, c.hot)
			}
		case ok:
			t.Fatalf("%s is eligible but failed: %v/%v %+v", ev.Name, ev.Verdict, ev.Reason, *ev)
		}
	}
	if fr.Passed != passed {
		t.Fatalf("Passed = %d, %d nodes pass", fr.Passed, passed)
	}
	if anyEligible && passed == 0 {
		t.Fatal("every eligible node rejected (the hot threshold must never reject all)")
	}
	checkFilterWire(t, ctx, snap, evs)

	// Prioritize: its own context, as a separate request.
	sctx := newEvalCtx(snap, c.res.load(), &pc, t0, &o)
	defer sctx.release()
	sevs := evsFor(snap, c.names...)
	win := sctx.score(sevs)
	for i := range sevs {
		ev := &sevs[i]
		if ev.Score < 0 || int64(ev.Score) > extenderv1.MaxExtenderPriority {
			t.Fatalf("%s: score %d", ev.Name, ev.Score)
		}
		if (ev.Verdict == vPass) != eligible(i) {
			t.Fatalf("%s: score verdict %v/%v, eligible %v", ev.Name, ev.Verdict, ev.Reason, eligible(i))
		}
		if ev.Verdict != vPass && ev.Score != 0 {
			t.Fatalf("%s fails the hard rules (%v) but scores %d", ev.Name, ev.Reason, ev.Score)
		}
		if f := &evs[i]; ev.Util != f.Util || ev.Live != f.Live || ev.Replicas != f.Replicas || ev.Cap != f.Cap {
			t.Fatalf("%s: filter and score disagree: %+v vs %+v", ev.Name, *f, *ev)
		}
	}
	if (win >= 0) != anyEligible {
		t.Fatalf("winner %d with eligible nodes %v", win, anyEligible)
	}
	if win >= 0 {
		w := &sevs[win]
		if w.Verdict != vPass || w.Score < 1 {
			t.Fatalf("winner %+v", *w)
		}
		for i := range sevs {
			if i != win && sevs[i].Score >= w.Score {
				t.Fatalf("winner %s (%d) is not the unique maximum: %s scores %d", w.Name, w.Score, sevs[i].Name, sevs[i].Score)
			}
		}
	}
	var prios extenderv1.HostPriorityList
	out := appendPriorities(nil, sevs, snap.hostPrefix)
	if err := json.Unmarshal(out, &prios); err != nil {
		t.Fatalf("HostPriorityList %s: %v", out, err)
	}
	if len(prios) != len(sevs) {
		t.Fatalf("%d priorities for %d nodes: %s", len(prios), len(sevs), out)
	}
	for i, hp := range prios {
		if hp.Host != sevs[i].Name || hp.Score != int64(sevs[i].Score) || hp.Score < 0 || hp.Score > extenderv1.MaxExtenderPriority {
			t.Fatalf("priority %d = %+v, want %s %d", i, hp, sevs[i].Name, sevs[i].Score)
		}
	}
}

// checkFilterWire encodes the filter result as the handler does (every
// passing node listed) and checks it against evs.
func checkFilterWire(t *testing.T, ctx *evalCtx, snap *Snapshot, evs []nodeEval) {
	out, err := appendFilterResult(nil, evs, snap.quoted, func(ev *nodeEval) string { return ctx.text(ev.Reason) }, nil, -1)
	if err != nil {
		t.Fatal(err)
	}
	var r extenderv1.ExtenderFilterResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("ExtenderFilterResult %s: %v", out, err)
	}
	if r.Error != "" || r.NodeNames == nil {
		t.Fatalf("filter result %s", out)
	}
	var want []string
	for i := range evs {
		if evs[i].Verdict == vPass {
			want = append(want, evs[i].Name)
		}
	}
	if !slices.Equal(*r.NodeNames, want) {
		t.Fatalf("NodeNames %q, want %q", *r.NodeNames, want)
	}
	if len(want)+len(r.FailedNodes)+len(r.FailedAndUnresolvableNodes) != len(evs) {
		t.Fatalf("filter result lists %d+%d+%d nodes of %d: %s", len(want), len(r.FailedNodes), len(r.FailedAndUnresolvableNodes), len(evs), out)
	}
	for i := range evs {
		ev := &evs[i]
		m := r.FailedNodes
		if ev.Verdict == vUnresolvable {
			m = r.FailedAndUnresolvableNodes
		}
		if ev.Verdict != vPass && m[ev.Name] == "" {
			t.Fatalf("%s (%v) has no reason in %s", ev.Name, ev.Verdict, out)
		}
	}
}

// TestDecideFuzzSeeds checks that FuzzDecide's seeds survive their
// encoding, so they are the clusters they claim to be.
func TestDecideFuzzSeeds(t *testing.T) {
	t.Parallel()
	seeds := decideFuzzSeeds()
	files, _ := filepath.Glob(filepath.Join("testdata", "cases", "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var gc goldenCase
		if err := yaml.UnmarshalStrict(data, &gc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		seeds = append(seeds, scenarioFromGolden(&gc))
	}
	for i, s := range seeds {
		if got := decodeScenario(s.encode()); !reflect.DeepEqual(got, normalized(s)) {
			t.Errorf("seed %d does not survive its encoding:\n%+v\n%+v", i, s, got)
		}
	}
}

// normalized is s as decodeScenario returns it (empty lists, not nil).
func normalized(s fuzzScenario) fuzzScenario {
	s.Nodes = slices.Clone(s.Nodes)
	if s.Nodes == nil {
		s.Nodes = []fuzzNode{}
	}
	for i := range s.Nodes {
		if s.Nodes[i].Pods == nil {
			s.Nodes[i].Pods = []fuzzPod{}
		}
	}
	return s
}
