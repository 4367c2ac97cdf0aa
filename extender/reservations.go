package extender

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
)

// Burst protection: reservations.
//
// N runtime replicas created at once must land one per equal idle node,
// although no metrics sample moves during the burst. Extenders have no
// Reserve hook, and kube-scheduler binds asynchronously: the next pod's
// scheduling cycle may start before the previous pod's binding reaches the
// API server (let alone this extender's pod informer), so neither the bind
// verb nor the informer can tell the next cycle where the previous pod went.
//
// What the extender does know is that kube-scheduler's scheduling cycles are
// serial (filter and prioritize of one pod complete before the next pod's
// filter starts) and that, with the hdscale-scheduler profile (the extender's
// weight makes its score decisive and the competing score plugins are
// disabled), the node the extender scores highest is the node the pod gets.
// So the extender records its prediction:
//
//   - In /prioritize it makes its best node a unique maximum (ties at the top
//     are broken deterministically: fewest runtime replicas including
//     reservations, then lowest effective utilisation, then node name; other
//     nodes with the top score are lowered by one, or the winner raised to 1
//     when the top score is 0) and records a Reservation: pod UID → node, with
//     the pod's CPU estimate and request, expiring after the TTL. A second
//     prioritize of the same pod UID replaces it.
//   - When /filter leaves exactly one node, kube-scheduler skips scoring and
//     takes that node, so /filter records the reservation then.
//   - Reservations count like bound replicas: toward the per-node caps in
//     filter, and toward the estimate (live data) or the requests (fallback)
//     in prioritize. A pod's own reservation never counts against itself.
//   - The pod informer reconciles. Once the pod is seen bound, it is counted
//     from the snapshot on the node it actually went to (a reservation whose
//     pod is bound in the current snapshot is ignored, and dropped when the
//     snapshot that contains the pod is published: no window in which the pod
//     counts nowhere), and its estimate keeps the reservation's time as the
//     placement time until a metrics sample includes it. A deleted pod's
//     reservation is dropped; so is that of a pod seen unschedulable in a
//     version newer than the one the reservation was made for (so a late
//     event about an earlier failed attempt cannot drop a fresh reservation).
//   - A pod can be deleted while its scheduling cycle is still running (a
//     Deployment scaled down during a burst): the informer's delete event
//     then arrives before the reservation exists. Deleted pod UIDs are
//     therefore remembered for the TTL, and Reserve refuses them, so such a
//     pod never holds a slot on a node.
//   - A reservation whose pod is never seen again expires after the TTL.
//
// Readers never lock: the set is copy-on-write behind an atomic pointer and
// writers (one per scheduling cycle, plus informer events) copy it under a
// small mutex. Reservations are few (at most the pods of one burst), so a copy
// is cheap.
type Reservations struct {
	mu   sync.Mutex
	ttl  time.Duration
	view atomic.Pointer[resView]
	// gone remembers deleted pod UIDs (until the given time) so that a
	// scheduling cycle finishing after the delete event cannot reserve for
	// them. Guarded by mu; only writers read it.
	gone map[types.UID]time.Time
}

// Reservation is a predicted placement.
type Reservation struct {
	UID             types.UID `json:"uid"`
	Namespace       string    `json:"namespace"`
	Name            string    `json:"name"`
	Node            string    `json:"node"`
	Group           groupKey  `json:"-"`
	EstimateMilli   int64     `json:"estimateMilli"`
	RequestMilli    int64     `json:"requestMilli"`
	ResourceVersion string    `json:"resourceVersion"`
	Verb            string    `json:"verb"`
	Created         time.Time `json:"created"`
	Expires         time.Time `json:"expires"`
}

// resView is an immutable set of reservations.
type resView struct {
	byUID  map[types.UID]*Reservation
	byNode map[string][]*Reservation
	// resolved caches the snapshot node index of each reservation for one
	// layout (computed by the first request that reads this view).
	resolved atomic.Pointer[resolvedView]
}

// resolvedView lists a view's reservations with their node indexes in one
// snapshot layout (-1: node unknown there).
type resolvedView struct {
	layout uint64
	res    []*Reservation
	idx    []int32
}

var emptyResView = &resView{byUID: map[types.UID]*Reservation{}, byNode: map[string][]*Reservation{}}

// NewReservations returns an empty set whose reservations live for ttl.
func NewReservations(ttl time.Duration) *Reservations {
	r := &Reservations{ttl: ttl, gone: map[types.UID]time.Time{}}
	r.view.Store(emptyResView)
	return r
}

func (r *Reservations) load() *resView { return r.view.Load() }

// Reserve records res (replacing any reservation of the same pod), created
// at now. It reports false, recording nothing, when the pod was deleted
// within the TTL (see Forget).
func (r *Reservations) Reserve(res Reservation, now time.Time) bool {
	res.Created, res.Expires = now, now.Add(r.ttl)
	r.mu.Lock()
	defer r.mu.Unlock()
	if until, ok := r.gone[res.UID]; ok && now.Before(until) {
		return false
	}
	old := r.load()
	v := &resView{byUID: maps.Clone(old.byUID), byNode: maps.Clone(old.byNode)}
	if prev, ok := v.byUID[res.UID]; ok {
		v.removeFromNode(prev)
	}
	v.byUID[res.UID] = &res
	// Never append in place: the old slice is shared with readers.
	v.byNode[res.Node] = append(slices.Clip(v.byNode[res.Node]), &res)
	r.view.Store(v)
	return true
}

// Forget drops the reservation of a deleted pod and refuses new ones for it
// until the TTL has passed.
func (r *Reservations) Forget(uid types.UID, now time.Time) {
	r.mu.Lock()
	r.gone[uid] = now.Add(r.ttl)
	r.mu.Unlock()
	r.Release(uid)
}

// Get returns the reservation of uid.
func (r *Reservations) Get(uid types.UID) (Reservation, bool) {
	if res, ok := r.load().byUID[uid]; ok {
		return *res, true
	}
	return Reservation{}, false
}

// Release drops the reservation of uid.
func (r *Reservations) Release(uid types.UID) bool {
	return r.drop(func(res *Reservation) bool { return res.UID == uid }, uid)
}

// ReleaseUnschedulable drops the reservation of uid when the pod was seen
// unschedulable at resourceVersion rv, newer than the version the
// reservation was made for. Versions that do not compare keep the
// reservation (the TTL ends it).
func (r *Reservations) ReleaseUnschedulable(uid types.UID, rv string) bool {
	return r.drop(func(res *Reservation) bool {
		c, err := resourceversion.CompareResourceVersion(rv, res.ResourceVersion)
		return err == nil && c > 0
	}, uid)
}

// drop removes the reservation of uid if match accepts it.
func (r *Reservations) drop(match func(*Reservation) bool, uid types.UID) bool {
	if _, ok := r.load().byUID[uid]; !ok { // fast path: most pods have none
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	res, ok := old.byUID[uid]
	if !ok || !match(res) {
		return false
	}
	v := &resView{byUID: maps.Clone(old.byUID), byNode: maps.Clone(old.byNode)}
	delete(v.byUID, uid)
	v.removeFromNode(res)
	r.view.Store(v)
	return true
}

// Prune drops expired reservations and those whose pod is bound in snap.
func (r *Reservations) Prune(snap *Snapshot, now time.Time) int {
	r.forgetGone(now)
	stale := func(res *Reservation) bool { return !now.Before(res.Expires) || snap.isBound(res.UID) }
	found := false
	for _, res := range r.load().byUID {
		if stale(res) {
			found = true
			break
		}
	}
	if !found {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	v := &resView{byUID: make(map[types.UID]*Reservation, len(old.byUID)), byNode: make(map[string][]*Reservation, len(old.byNode))}
	dropped := 0
	for _, res := range old.byUID {
		if stale(res) {
			dropped++
			continue
		}
		v.byUID[res.UID] = res
		v.byNode[res.Node] = append(v.byNode[res.Node], res)
	}
	r.view.Store(v)
	return dropped
}

// forgetGone ends the memory of pods deleted more than a TTL ago.
func (r *Reservations) forgetGone(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	maps.DeleteFunc(r.gone, func(_ types.UID, until time.Time) bool { return !now.Before(until) })
}

// Count is the number of unexpired reservations at now.
func (r *Reservations) Count(now time.Time) int {
	n := 0
	for _, res := range r.load().byUID {
		if now.Before(res.Expires) {
			n++
		}
	}
	return n
}

// List returns the reservations, ordered by creation.
func (r *Reservations) List() []Reservation {
	v := r.load()
	out := make([]Reservation, 0, len(v.byUID))
	for _, res := range v.byUID {
		out = append(out, *res)
	}
	slices.SortFunc(out, func(a, b Reservation) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.UID, b.UID)
	})
	return out
}

// removeFromNode removes res from its node's slice in a fresh copy.
func (v *resView) removeFromNode(res *Reservation) {
	old := v.byNode[res.Node]
	if len(old) == 1 {
		delete(v.byNode, res.Node)
		return
	}
	nl := make([]*Reservation, 0, len(old)-1)
	for _, o := range old {
		if o != res {
			nl = append(nl, o)
		}
	}
	v.byNode[res.Node] = nl
}

// resOnNode sums what a node's reservations add for a pod.
type resOnNode struct {
	count, inGroup      int32
	estimate, requested int64
}

// overlay sums, per node index of snap, the reservations that count for the
// pod self of group g at now: not its own, not expired, not already bound in
// snap, on a node snap knows. dst has snap.Len() zeroed entries; overlay
// returns the indexes it touched (to reset them after the request).
func (v *resView) overlay(snap *Snapshot, self types.UID, g groupKey, now time.Time, dst []resOnNode, touched []int32) []int32 {
	r := v.resolved.Load()
	if r == nil || r.layout != snap.layout.id {
		r = &resolvedView{layout: snap.layout.id, res: make([]*Reservation, 0, len(v.byUID)), idx: make([]int32, 0, len(v.byUID))}
		for node, list := range v.byNode {
			idx, ok := snap.Lookup(node)
			if !ok {
				idx = -1
			}
			for _, res := range list {
				r.res, r.idx = append(r.res, res), append(r.idx, idx)
			}
		}
		v.resolved.Store(r)
	}
	for i, res := range r.res {
		idx := r.idx[i]
		if idx < 0 || res.UID == self || !now.Before(res.Expires) || snap.isBound(res.UID) {
			continue
		}
		sum := &dst[idx]
		if sum.count == 0 {
			touched = append(touched, idx)
		}
		sum.count++
		if res.Group == g {
			sum.inGroup++
		}
		sum.estimate += res.EstimateMilli
		sum.requested += res.RequestMilli
	}
	return touched
}
