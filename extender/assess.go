package extender

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hdscale/hdscale/internal/policy"
)

// verdict is a node's filter outcome.
type verdict uint8

const (
	vPass verdict = iota
	// vFail: FailedNodes, resolvable (waiting can help).
	vFail
	// vUnresolvable: FailedAndUnresolvableNodes (waiting cannot help).
	vUnresolvable
)

func (v verdict) String() string {
	switch v {
	case vFail:
		return "fail"
	case vUnresolvable:
		return "unresolvable"
	}
	return "pass"
}

// reason says why a node failed.
type reason uint8

const (
	rNone reason = iota
	rUnknownNode
	rNotInPool
	rShape
	rUnusable
	rTooSmall
	rCap
	rHot
	rInvalidPod
	numReasons
)

func (r reason) String() string {
	return [...]string{"", "unknown-node", "not-in-pool", "shape", "unusable", "too-small", "cap", "hot", "invalid-pod"}[r]
}

// nodeEval is everything the extender concluded about one node for one pod.
// Filter and score fill it; explain renders it. It is kept small (72 bytes):
// a request writes one per candidate node and the explain ring keeps them.
type nodeEval struct {
	Name string
	// Idx is the node's index in the snapshot, -1 when unknown.
	Idx     int32
	Verdict verdict
	Reason  reason
	// Live is true when the node's metrics sample is fresh; otherwise the
	// requests-based fallback applies.
	Live bool
	Hot  bool
	// Score is the prioritize score, -1 when not scored.
	Score int32
	// Replicas counts this pod's group on the node (reservations included)
	// against Cap; RuntimePods counts all runtime replicas, Reserved the
	// reservations among them.
	Replicas, Cap, RuntimePods, Reserved int32
	// AllocMilli is allocatable CPU. UsageMilli is the sample's usage,
	// EstimateMilli the estimates of replicas no sample includes yet
	// (reservations included), RequestedMilli the requests of bound pods and
	// reservations. LoadMilli is UsageMilli+EstimateMilli when live, else
	// RequestedMilli (all clamped to int32: 2 million cores).
	AllocMilli, UsageMilli, EstimateMilli, RequestedMilli, LoadMilli int32
	// Util is LoadMilli/AllocMilli (computed in float64, kept as float32).
	Util float32
	// SampleAgeMs is the age of the node's sample, -1 when it has none.
	SampleAgeMs int32
}

// SampleAge is the age of the node's sample, -1 when it has none.
func (ev *nodeEval) SampleAge() time.Duration {
	if ev.SampleAgeMs < 0 {
		return -1
	}
	return time.Duration(ev.SampleAgeMs) * time.Millisecond
}

func clamp32(v int64) int32 { return int32(min(max(v, math.MinInt32), math.MaxInt32)) }

// evalCtx is one request's view: one snapshot, one reservation set, one now.
type evalCtx struct {
	snap    *Snapshot
	res     *resView
	pod     *podCtx
	now     time.Time
	nowNano int64
	maxAge  time.Duration
	tol     float64
	hot     float64
	pool    *PoolFacts // nil when no node is in the pod's pool
	// poolID is the pod's pool in snap.poolIDs (noPool-1 when no node has it).
	poolID int32
	// groups counts the pod's group per node index (nil: none anywhere).
	groups []int32
	// over holds, per node index, what reservations add (see overlay);
	// touched lists the non-zero entries.
	over    []resOnNode
	overBuf *[]resOnNode
	touched []int32
	texts   [numReasons]string
}

// overlays recycles the per-request reservation overlays.
var overlays = newFreeList[[]resOnNode](4)

// newEvalCtx returns the context of one request. Call release when done.
func newEvalCtx(snap *Snapshot, res *resView, pod *podCtx, now time.Time, o *Options) *evalCtx {
	c := &evalCtx{snap: snap, res: res, pod: pod, now: now, nowNano: now.UnixNano(), maxAge: o.MaxAge(), tol: o.ShapeTolerance, hot: o.HotThreshold}
	c.pool, _ = snap.Pool(pod.Placement.Pool)
	c.poolID = noPool - 1
	if id, ok := snap.poolIDs[pod.Placement.Pool]; ok {
		c.poolID = id
	}
	c.groups = snap.groups[pod.Group]
	if len(res.byNode) > 0 {
		c.overBuf = overlays.get()
		if cap(*c.overBuf) < snap.Len() {
			*c.overBuf = make([]resOnNode, snap.Len())
		}
		c.over = (*c.overBuf)[:snap.Len()]
		c.touched = res.overlay(snap, pod.UID, pod.Group, now, c.over, nil)
	}
	return c
}

// release returns the overlay (zeroed) to the pool.
func (c *evalCtx) release() {
	if c.over == nil {
		return
	}
	for _, i := range c.touched {
		c.over[i] = resOnNode{}
	}
	c.over, c.touched = nil, nil
	overlays.put(c.overBuf)
}

// assess fills ev's usage facts: the one place effective utilisation is
// computed, so filter and score always agree.
//
// Live (the node's sample is at most maxAge old):
//
//	load = sample usage + estimates of bound replicas the sample does not
//	       include yet + estimates of reservations on the node
//
// Fallback (no sample, or a stale one):
//
//	load = CPU requests of the pods bound to the node + requests of
//	       reservations on the node
//
// and utilisation = load / allocatable CPU, which assess returns.
func (c *evalCtx) assess(ev *nodeEval) float64 {
	ev.SampleAgeMs = -1
	if ev.Idx < 0 {
		ev.Util = 1
		return 1
	}
	h := &c.snap.hot[ev.Idx]
	var ro resOnNode
	if c.over != nil {
		ro = c.over[ev.Idx]
	}
	ev.RuntimePods = h.runtimePods + ro.count
	ev.Reserved = ro.count
	ev.Replicas = ro.inGroup
	if c.groups != nil {
		ev.Replicas += c.groups[ev.Idx]
	}
	requested, estimate := h.requested+ro.requested, h.estimate+ro.estimate
	var usage int64
	ev.Live = false
	if h.sampleNano != 0 {
		age := time.Duration(c.nowNano - h.sampleNano)
		ev.SampleAgeMs = clamp32(age.Milliseconds())
		usage = h.usage
		ev.Live = age <= c.maxAge
	}
	load := requested
	if ev.Live {
		load = usage + estimate
	}
	u := utilisation(load, h.cpu)
	ev.AllocMilli, ev.UsageMilli, ev.EstimateMilli = clamp32(h.cpu), clamp32(usage), clamp32(estimate)
	ev.RequestedMilli, ev.LoadMilli, ev.Util = clamp32(requested), clamp32(load), float32(u)
	return u
}

func utilisation(load, alloc int64) float64 {
	if alloc <= 0 {
		return 1
	}
	return float64(max(load, 0)) / float64(alloc)
}

// check applies the hard rules (pool, shape, cap) to an assessed node.
func (c *evalCtx) check(ev *nodeEval) {
	ev.Verdict, ev.Reason = vPass, rNone
	if ev.Idx < 0 {
		ev.Verdict, ev.Reason = vFail, rUnknownNode
		return
	}
	h := &c.snap.hot[ev.Idx]
	if h.pool != c.poolID {
		ev.Verdict, ev.Reason = vUnresolvable, rNotInPool
		return
	}
	if !h.usable {
		ev.Verdict, ev.Reason = vFail, rUnusable
		return
	}
	if !h.member {
		ev.Verdict, ev.Reason = vUnresolvable, rShape
		return
	}
	ev.Cap = int32(min(c.pod.Placement.Pattern.MaxPerNode(h.cpu, c.pod.RequestMilli), math.MaxInt32))
	if ev.Cap <= 0 || c.pod.RequestMilli > h.cpu {
		ev.Verdict, ev.Reason = vUnresolvable, rTooSmall
		return
	}
	if ev.Replicas >= ev.Cap {
		ev.Verdict, ev.Reason = vFail, rCap
	}
}

// text is the human-readable reason kube-scheduler shows in the pod's
// FailedScheduling event. kube-scheduler groups equal reasons ("3 node(s)
// ..."), so they are the same for every node of a request; per-node numbers
// are in /explain.
func (c *evalCtx) text(r reason) string {
	if t := c.texts[r]; t != "" {
		return t
	}
	pl := c.pod.Placement
	var t string
	switch r {
	case rUnknownNode:
		t = "hdscale: node is not in the extender's cache yet"
	case rNotInPool:
		t = fmt.Sprintf("hdscale: node is not in pool %q (node label %s)", pl.Pool, policy.NodePoolKey)
	case rShape:
		t = c.shapeText()
	case rUnusable:
		t = "hdscale: node is not usable now (cordoned, not Ready, tainted not-ready/unreachable, or being deleted)"
	case rTooSmall:
		t = fmt.Sprintf("hdscale: node's allocatable CPU cannot fit one replica requesting %s CPU", policy.MilliString(c.pod.RequestMilli))
	case rCap:
		t = fmt.Sprintf("hdscale: node already holds the %s cap of runtime replicas of namespace %q in pool %q", pl.Pattern, c.pod.Namespace, pl.Pool)
	case rHot:
		t = fmt.Sprintf("hdscale: node's live CPU utilisation is at or above the hot threshold %g%%", c.hot*100)
	default:
		t = "hdscale: " + r.String()
	}
	c.texts[r] = t
	return t
}

// shapeText explains rShape. kube-scheduler groups equal reasons, so it is
// the same for every outlier node: it names the pool's reference shape and
// its outliers (names and shapes), which get no replicas.
func (c *evalCtx) shapeText() string {
	pl := c.pod.Placement
	if c.pool == nil || !c.pool.HasRef {
		return fmt.Sprintf("hdscale: pool %q has no usable node of its reference shape", pl.Pool)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "hdscale: node is not of pool %q's reference shape (%s, %d usable members; tolerance %g%%) and gets no replicas; outliers:",
		pl.Pool, c.pool.Ref, c.pool.Members, c.tol*100)
	for i, n := range c.pool.Outliers {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(c.pool.Outliers)-5)
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %s (%s)", n.Name, n.Shape)
	}
	b.WriteString("; give them a pool of their own")
	return b.String()
}
