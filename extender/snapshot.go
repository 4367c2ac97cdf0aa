package extender

import (
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/hdscale/hdscale/internal/pool"
)

// Sample is one metrics.k8s.io NodeMetrics reading: the node's CPU usage
// averaged over [Timestamp-Window, Timestamp].
type Sample struct {
	UsageMilli int64
	Timestamp  time.Time
	Window     time.Duration
}

// Has reports whether there is a sample.
func (s Sample) Has() bool { return !s.Timestamp.IsZero() }

// Start is the start of the sample's window: usage of anything running since
// before Start is included in the sample.
func (s Sample) Start() time.Time { return s.Timestamp.Add(-s.Window) }

// NodeFacts is one node in a Snapshot.
type NodeFacts struct {
	pool.Node
	// RequestedMilli is the sum of the effective CPU requests of the
	// non-terminal pods bound to the node (the fallback's measure).
	RequestedMilli int64
	// RuntimePods counts the runtime replicas bound to the node, all groups.
	RuntimePods int32
	// EstimateMilli sums the estimates of bound runtime replicas that no
	// sample of this node includes yet; Uncovered counts them.
	EstimateMilli int64
	Uncovered     int32
	// Sample is the node's latest metrics sample (zero when none).
	Sample Sample
}

// PoolFacts describes one pool (the nodes labelled hdscale.io/pool=<name>):
// the one pool model the webhook sizes for (internal/pool).
type PoolFacts = pool.Pool

// Snapshot is an immutable view of every fact filter and score read: nodes,
// pool reference shapes, runtime replicas per node and group, usage and
// sample times. It is rebuilt on informer and poller events and swapped
// atomically, so one request reads one coherent set of facts without locks.
// Nothing in a published Snapshot is ever modified.
type Snapshot struct {
	// Generation increases with every build.
	Generation uint64
	// Built is when the snapshot was built.
	Built time.Time
	// Polled is the time of the last successful NodeMetrics poll (zero if
	// none); PollError is the last poll's error, if it failed.
	Polled    time.Time
	PollError string

	*layout
	nodes []NodeFacts
	// hot holds, per node index, the facts filter and score read, compact
	// so a request over thousands of nodes stays in cache.
	hot []nodeHot
	// groups counts runtime replicas per group, indexed like nodes.
	groups map[groupKey][]int32
	// bound holds the UIDs of bound runtime replicas (they are counted in
	// groups, so a reservation for one of them must not count again).
	bound map[types.UID]struct{}
}

// layout is what depends on the set of nodes and their static facts only;
// snapshots share it until a node changes.
type layout struct {
	// id identifies the layout (node indexes are only valid within one).
	id    uint64
	index map[string]int32
	// names and quoted are, per node index, the name and its JSON string.
	names  []string
	quoted []string
	// plain is true for names that are their own JSON content (no escapes).
	plain []bool
	// hostPrefix is, per node index, `{"Host":<quoted>,"Score":`.
	hostPrefix []string
	// static and member are, per node index, the node's static facts and
	// whether it is a member of its pool (pool.Pool.Member: usable and
	// within tolerance of the reference shape).
	static []pool.Node
	member []bool
	pools  map[string]*PoolFacts
	// poolIDs numbers the pools; nodeHot.pool refers to it.
	poolIDs map[string]int32
}

// nodeHot is what filter and score read of one node: one cache line.
type nodeHot struct {
	pool        int32 // poolIDs of the node's pool, noPool without
	runtimePods int32
	cpu         int64 // allocatable
	requested   int64
	estimate    int64
	usage       int64
	sampleNano  int64 // sample timestamp (UnixNano), 0 without a sample
	// usable: pool.Node.Usable; member: see layout.member.
	usable, member bool
}

const noPool = -1

var emptySnapshot = &Snapshot{
	layout: &layout{index: map[string]int32{}, pools: map[string]*PoolFacts{}, poolIDs: map[string]int32{}},
	groups: map[groupKey][]int32{}, bound: map[types.UID]struct{}{},
}

// Len is the number of nodes.
func (s *Snapshot) Len() int { return len(s.nodes) }

// Node returns the node at index i.
func (s *Snapshot) Node(i int32) *NodeFacts { return &s.nodes[i] }

// Lookup returns the index of the named node.
func (s *Snapshot) Lookup(name string) (int32, bool) {
	i, ok := s.index[name]
	return i, ok
}

// lookupBytes is Lookup for a name still in the request body; the map
// lookup with a converted []byte does not allocate.
func (s *Snapshot) lookupBytes(name []byte) (int32, bool) {
	i, ok := s.index[string(name)]
	return i, ok
}

// Pool returns the facts of the named pool (shared: do not modify).
func (s *Snapshot) Pool(name string) (*PoolFacts, bool) {
	p, ok := s.pools[name]
	return p, ok
}

// Pools returns every pool's facts (shared: do not modify).
func (s *Snapshot) Pools() map[string]*PoolFacts { return s.pools }

// isBound reports whether uid is a bound runtime replica.
func (s *Snapshot) isBound(uid types.UID) bool {
	_, ok := s.bound[uid]
	return ok
}

// live reports whether node n's sample is fresh at now.
func (n *NodeFacts) live(now time.Time, maxAge time.Duration) bool {
	return n.Sample.Has() && now.Sub(n.Sample.Timestamp) <= maxAge
}
