package extender

import (
	"maps"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hdscale/hdscale/internal/pool"
)

// NodeSample is a metrics sample of one node.
type NodeSample struct {
	Node string
	Sample
}

// Input is everything a Snapshot is built from.
type Input struct {
	Nodes   []*v1.Node
	Pods    []*v1.Pod
	Samples []NodeSample
	// PlacedAt gives the placement time of runtime replicas (normally the
	// time of their reservation); absent ones use their PodScheduled
	// transition time, else Now.
	PlacedAt       map[types.UID]time.Time
	Now            time.Time
	ShapeTolerance float64
}

// Build is the pure function from node, pod and metric lists to a Snapshot.
func Build(in Input) *Snapshot {
	b := NewBuilder(in.ShapeTolerance)
	for _, n := range in.Nodes {
		b.SetNode(pool.NodeFrom(n))
	}
	for _, p := range in.Pods {
		b.SetPod(podFactsFrom(p), in.PlacedAt[p.UID], in.Now)
	}
	b.SetSamples(in.Samples)
	return b.Snapshot(in.Now)
}

// Builder is Build's incremental form: informers and the poller apply
// changes as they come and Snapshot publishes an immutable copy. Parts that
// did not change (the node index and pool shapes, the replica counts) are
// shared with the previous snapshot. A Builder is not safe for concurrent
// use; store serialises access.
type Builder struct {
	tol     float64
	nodes   map[string]pool.Node
	pods    map[types.UID]*podEntry // bound, non-terminal pods only
	agg     map[string]*nodeAgg     // per node name, known node or not
	groups  map[groupKey]map[string]int32
	samples map[string]Sample
	polled  time.Time
	pollErr string

	// What changed since the last snapshot: the node set or a node's static
	// facts (nodesDirty: rebuild everything), the facts of some nodes, the
	// replica counts of some groups, the bound runtime replicas.
	nodesDirty  bool
	dirtyNodes  map[string]struct{}
	dirtyGroups map[groupKey]struct{}
	boundDelta  map[types.UID]bool // true: now bound, false: gone
	prev        *Snapshot
	gen         uint64
}

type podEntry struct {
	f        podFacts
	placedAt time.Time
}

type nodeAgg struct {
	// pods counts the pods bound to the node (requests may be 0).
	pods      int
	requested int64
	runtime   map[types.UID]*podEntry
}

// NewBuilder returns an empty builder using shape tolerance tol.
func NewBuilder(tol float64) *Builder {
	return &Builder{
		tol:     tol,
		nodes:   map[string]pool.Node{},
		pods:    map[types.UID]*podEntry{},
		agg:     map[string]*nodeAgg{},
		groups:  map[groupKey]map[string]int32{},
		samples: map[string]Sample{},

		dirtyNodes:  map[string]struct{}{},
		dirtyGroups: map[groupKey]struct{}{},
		boundDelta:  map[types.UID]bool{},
	}
}

// SetNode adds or updates a node; it reports whether any fact changed.
func (b *Builder) SetNode(f pool.Node) bool {
	if old, ok := b.nodes[f.Name]; ok && old == f {
		return false
	}
	b.nodes[f.Name] = f
	b.nodesDirty = true
	return true
}

// DeleteNode removes a node and its sample.
func (b *Builder) DeleteNode(name string) bool {
	_, known := b.nodes[name]
	_, sampled := b.samples[name]
	delete(b.nodes, name)
	delete(b.samples, name)
	if known {
		b.nodesDirty = true
	}
	return known || sampled
}

// SetPod adds, updates or (when it is unbound or terminal) forgets a pod.
// placedAt is used when a runtime replica is first seen bound (zero: its
// PodScheduled time, else now). It reports whether any counted fact changed.
func (b *Builder) SetPod(f podFacts, placedAt, now time.Time) bool {
	old := b.pods[f.UID]
	if f.Node == "" || f.Terminal {
		if old == nil {
			return false
		}
		return b.DeletePod(f.UID)
	}
	if old != nil && sameCounted(old.f, f) {
		old.f = f
		return false
	}
	e := &podEntry{f: f}
	switch {
	case old != nil && old.f.Node == f.Node && old.f.Runtime && f.Runtime:
		e.placedAt = old.placedAt
	case !placedAt.IsZero():
		e.placedAt = placedAt
	case !f.ScheduledAt.IsZero():
		e.placedAt = f.ScheduledAt
	default:
		e.placedAt = now
	}
	if old != nil {
		b.remove(old)
	}
	b.add(e)
	return true
}

// DeletePod forgets a pod.
func (b *Builder) DeletePod(uid types.UID) bool {
	old := b.pods[uid]
	if old == nil {
		return false
	}
	b.remove(old)
	return true
}

// SetSamples records new metrics samples; nodes without a new sample keep
// their previous one until it is stale.
func (b *Builder) SetSamples(samples []NodeSample) bool {
	for _, s := range samples {
		b.samples[s.Node] = s.Sample
		b.dirtyNodes[s.Node] = struct{}{}
	}
	return len(samples) > 0
}

// SetPollResult records the time and error of the last poll.
func (b *Builder) SetPollResult(at time.Time, err error) {
	if err != nil {
		b.pollErr = err.Error()
		return
	}
	b.polled, b.pollErr = at, ""
}

// sameCounted reports whether two facts of one pod contribute the same.
func sameCounted(a, b podFacts) bool {
	return a.Node == b.Node && a.RequestMilli == b.RequestMilli && a.Runtime == b.Runtime &&
		a.Group == b.Group && a.EstimateMilli == b.EstimateMilli && a.Running == b.Running &&
		a.RunningSince.Equal(b.RunningSince)
}

func (b *Builder) add(e *podEntry) {
	b.pods[e.f.UID] = e
	b.dirtyNodes[e.f.Node] = struct{}{}
	a := b.agg[e.f.Node]
	if a == nil {
		a = &nodeAgg{}
		b.agg[e.f.Node] = a
	}
	a.pods++
	a.requested += e.f.RequestMilli
	if !e.f.Runtime {
		return
	}
	if a.runtime == nil {
		a.runtime = map[types.UID]*podEntry{}
	}
	a.runtime[e.f.UID] = e
	g := b.groups[e.f.Group]
	if g == nil {
		g = map[string]int32{}
		b.groups[e.f.Group] = g
	}
	g[e.f.Node]++
	b.dirtyGroups[e.f.Group] = struct{}{}
	b.boundDelta[e.f.UID] = true
}

// RuntimePods returns the runtime pods of group g counted on node.
func (b *Builder) RuntimePods(node string, g groupKey) []podRef {
	a := b.agg[node]
	if a == nil {
		return nil
	}
	var out []podRef
	for _, e := range a.runtime {
		if e.f.Group == g {
			out = append(out, podRef{UID: e.f.UID, Namespace: e.f.Namespace, Name: e.f.Name, Node: node})
		}
	}
	return out
}

func (b *Builder) remove(e *podEntry) {
	delete(b.pods, e.f.UID)
	b.dirtyNodes[e.f.Node] = struct{}{}
	a := b.agg[e.f.Node]
	a.pods--
	a.requested -= e.f.RequestMilli
	if e.f.Runtime {
		delete(a.runtime, e.f.UID)
		g := b.groups[e.f.Group]
		if g[e.f.Node]--; g[e.f.Node] <= 0 {
			delete(g, e.f.Node)
			if len(g) == 0 {
				delete(b.groups, e.f.Group)
			}
		}
		b.dirtyGroups[e.f.Group] = struct{}{}
		b.boundDelta[e.f.UID] = false
	}
	if a.pods == 0 {
		delete(b.agg, e.f.Node)
	}
}

// Snapshot publishes the current facts as an immutable Snapshot built at now.
// Only what changed since the previous snapshot is recomputed; the rest is
// shared with it (so a pod event costs a copy of the per-node arrays, not a
// pass over every pod).
func (b *Builder) Snapshot(now time.Time) *Snapshot {
	b.gen++
	s := &Snapshot{Generation: b.gen, Built: now, Polled: b.polled, PollError: b.pollErr}
	prev := b.prev
	full := prev == nil || b.nodesDirty
	if full {
		s.layout = b.newLayout()
		s.nodes = make([]NodeFacts, len(s.names))
		s.hot = make([]nodeHot, len(s.names))
		for i := range s.names {
			b.fill(s, int32(i))
		}
	} else {
		s.layout = prev.layout
		s.nodes, s.hot = slices.Clone(prev.nodes), slices.Clone(prev.hot)
		for name := range b.dirtyNodes {
			if i, ok := s.index[name]; ok {
				b.fill(s, i)
			}
		}
	}
	switch {
	case full:
		s.groups = make(map[groupKey][]int32, len(b.groups))
		for g := range b.groups {
			s.groups[g] = b.groupCounts(s, g)
		}
	case len(b.dirtyGroups) > 0:
		s.groups = maps.Clone(prev.groups)
		for g := range b.dirtyGroups {
			if _, ok := b.groups[g]; ok {
				s.groups[g] = b.groupCounts(s, g)
			} else {
				delete(s.groups, g)
			}
		}
	default:
		s.groups = prev.groups
	}
	switch {
	case full:
		s.bound = make(map[types.UID]struct{}, len(b.pods)/4)
		for _, a := range b.agg {
			for uid := range a.runtime {
				s.bound[uid] = struct{}{}
			}
		}
	case len(b.boundDelta) > 0:
		s.bound = maps.Clone(prev.bound)
		for uid := range b.boundDelta {
			// Decide from the current state: a pod may have moved in and out.
			if e, ok := b.pods[uid]; ok && e.f.Runtime {
				s.bound[uid] = struct{}{}
			} else {
				delete(s.bound, uid)
			}
		}
	default:
		s.bound = prev.bound
	}
	b.nodesDirty = false
	clear(b.dirtyNodes)
	clear(b.dirtyGroups)
	clear(b.boundDelta)
	b.prev = s
	return s
}

// fill computes node i of s from the builder's state.
func (b *Builder) fill(s *Snapshot, i int32) {
	name := s.names[i]
	f := &s.nodes[i]
	*f = NodeFacts{Node: s.static[i], Sample: b.samples[name]}
	if a := b.agg[name]; a != nil {
		f.RequestedMilli = a.requested
		f.RuntimePods = int32(len(a.runtime))
		for _, e := range a.runtime {
			if !covered(e, f.Sample) {
				f.EstimateMilli += e.f.EstimateMilli
				f.Uncovered++
			}
		}
	}
	h := &s.hot[i]
	*h = nodeHot{pool: noPool, runtimePods: f.RuntimePods, cpu: f.Shape.CPUMilli, usable: f.Usable(), member: s.member[i],
		requested: f.RequestedMilli, estimate: f.EstimateMilli, usage: f.Sample.UsageMilli}
	if f.Pool != "" {
		h.pool = s.poolIDs[f.Pool]
	}
	if f.Sample.Has() {
		h.sampleNano = f.Sample.Timestamp.UnixNano()
	}
}

// groupCounts is group g's replica count per node index of s.
func (b *Builder) groupCounts(s *Snapshot, g groupKey) []int32 {
	counts := make([]int32, len(s.names))
	for node, c := range b.groups[g] {
		if i, ok := s.index[node]; ok {
			counts[i] = c
		}
	}
	return counts
}

// newLayout indexes the current nodes (sorted by name) and their pools.
func (b *Builder) newLayout() *layout {
	l := &layout{id: b.gen}
	l.names = make([]string, 0, len(b.nodes))
	for name := range b.nodes {
		l.names = append(l.names, name)
	}
	slices.Sort(l.names)
	l.index = make(map[string]int32, len(l.names))
	l.quoted = make([]string, len(l.names))
	l.plain = make([]bool, len(l.names))
	l.hostPrefix = make([]string, len(l.names))
	l.static = make([]pool.Node, len(l.names))
	for i, name := range l.names {
		l.index[name] = int32(i)
		l.quoted[i] = string(appendString(nil, name))
		l.plain[i] = l.quoted[i] == `"`+name+`"`
		l.hostPrefix[i] = `{"Host":` + l.quoted[i] + `,"Score":`
		l.static[i] = b.nodes[name]
	}
	l.pools = pool.Summarize(l.static, b.tol)
	l.poolIDs = make(map[string]int32, len(l.pools))
	poolNames := make([]string, 0, len(l.pools))
	for name := range l.pools {
		poolNames = append(poolNames, name)
	}
	slices.Sort(poolNames)
	for i, name := range poolNames {
		l.poolIDs[name] = int32(i)
	}
	l.member = make([]bool, len(l.static))
	for i, st := range l.static {
		if p := l.pools[st.Pool]; p != nil {
			l.member[i] = p.Member(st)
		}
	}
	return l
}

// covered reports whether sample s includes runtime replica e's usage: the
// replica runs and the sample's window started after it was placed and after
// its containers started. Until then its estimate counts.
func covered(e *podEntry, s Sample) bool {
	if !s.Has() || !e.f.Running {
		return false
	}
	ref := e.placedAt
	if e.f.RunningSince.After(ref) {
		ref = e.f.RunningSince
	}
	return s.Start().After(ref)
}
