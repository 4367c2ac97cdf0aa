package extender

import (
	"testing"
	"time"

	"github.com/hdscale/hdscale/internal/policy"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestReservationsLifecycle(t *testing.T) {
	t.Parallel()
	r := NewReservations(time.Minute)
	g := groupKey{"team", "runtime"}
	r.Reserve(Reservation{UID: "a", Node: "n-0", Group: g, EstimateMilli: 1000, RequestMilli: 500, ResourceVersion: "5"}, t0)
	r.Reserve(Reservation{UID: "b", Node: "n-0", Group: g, EstimateMilli: 1000, RequestMilli: 500}, t0.Add(time.Second))
	before := r.load()
	// Replacing the same UID moves it.
	r.Reserve(Reservation{UID: "a", Node: "n-1", Group: g, EstimateMilli: 1000, RequestMilli: 500, ResourceVersion: "7"}, t0.Add(2*time.Second))
	if got := len(before.byNode["n-0"]); got != 2 {
		t.Fatalf("an earlier view changed: %d reservations on n-0", got)
	}
	v := r.load()
	if len(v.byUID) != 2 || len(v.byNode["n-0"]) != 1 || len(v.byNode["n-1"]) != 1 {
		t.Fatalf("after replace: %v", v.byNode)
	}
	if res, ok := r.Get("a"); !ok || res.Node != "n-1" || !res.Expires.Equal(t0.Add(62*time.Second)) {
		t.Fatalf("Get(a) = %+v %v", res, ok)
	}
	if got := r.Count(t0.Add(61 * time.Second)); got != 1 {
		t.Errorf("count after b expired = %d, want 1", got)
	}
	if l := r.List(); len(l) != 2 || l[0].UID != "b" {
		t.Errorf("List = %+v, want creation order", l)
	}
	// Unschedulable seen at the version the reservation was made for (or
	// older): kept. Newer: dropped.
	if r.ReleaseUnschedulable("a", "7") || r.ReleaseUnschedulable("a", "6") || r.ReleaseUnschedulable("a", "garbage") {
		t.Error("an event not newer than the reservation dropped it")
	}
	if !r.ReleaseUnschedulable("a", "8") {
		t.Error("a newer unschedulable event kept the reservation")
	}
	if r.Release("a") || !r.Release("b") || r.Release("b") {
		t.Error("Release results wrong")
	}
	if len(r.load().byUID) != 0 || len(r.load().byNode) != 0 {
		t.Errorf("not empty: %+v", r.load())
	}
}

func TestReservationsPrune(t *testing.T) {
	t.Parallel()
	r := NewReservations(time.Minute)
	g := groupKey{"team", "runtime"}
	p := runtimePod("team", "bound", policy.PerCore, "runtime", 1000, 1000)
	r.Reserve(Reservation{UID: p.UID, Node: "r-0", Group: g}, t0)
	r.Reserve(Reservation{UID: "old", Node: "r-0", Group: g}, t0.Add(-2*time.Minute))
	r.Reserve(Reservation{UID: "live", Node: "r-1", Group: g}, t0)
	empty := Build(Input{Nodes: poolNodes("r", "runtime", 2), Now: t0})
	// The pod is bound in the snapshot on another node than predicted.
	snap := Build(Input{Nodes: poolNodes("r", "runtime", 2), Pods: []*v1.Pod{bound(p, "r-1", t0, t0)}, Now: t0})
	if n := r.Prune(empty, t0); n != 1 {
		t.Errorf("pruned %d with nothing bound, want the expired one", n)
	}
	// Before Prune, the overlay already ignores the bound pod's reservation.
	over := make([]resOnNode, snap.Len())
	if touched := r.load().overlay(snap, "", g, t0, over, nil); len(touched) != 1 || over[1].count != 1 {
		t.Errorf("overlay counts the bound pod's reservation: %v %+v", touched, over)
	}
	if n := r.Prune(snap, t0); n != 1 {
		t.Errorf("pruned %d, want the bound one", n)
	}
	if _, ok := r.Get("live"); !ok || len(r.load().byUID) != 1 {
		t.Errorf("left %+v", r.load().byUID)
	}
	if n := r.Prune(snap, t0); n != 0 {
		t.Errorf("second prune dropped %d", n)
	}
}

func TestReservationsOverlay(t *testing.T) {
	t.Parallel()
	r := NewReservations(time.Minute)
	g := groupKey{"team", "runtime"}
	r.Reserve(Reservation{UID: "a", Node: "r-1", Group: g, EstimateMilli: 1000, RequestMilli: 400}, t0)
	r.Reserve(Reservation{UID: "b", Node: "r-1", Group: groupKey{"other", "runtime"}, EstimateMilli: 2000, RequestMilli: 800}, t0)
	r.Reserve(Reservation{UID: "self", Node: "r-1", Group: g, EstimateMilli: 5000, RequestMilli: 5000}, t0)
	r.Reserve(Reservation{UID: "gone", Node: "deleted-node", Group: g, EstimateMilli: 5000, RequestMilli: 5000}, t0)
	snap := Build(Input{Nodes: poolNodes("r", "runtime", 2), Now: t0})
	over := make([]resOnNode, snap.Len())
	touched := r.load().overlay(snap, types.UID("self"), g, t0, over, nil)
	want := resOnNode{count: 2, inGroup: 1, estimate: 3000, requested: 1200}
	if len(touched) != 1 || touched[0] != 1 || over[1] != want || over[0] != (resOnNode{}) {
		t.Errorf("overlay = %v %+v, want r-1 = %+v", touched, over, want)
	}
}

// A pod deleted while its scheduling cycle still runs: the delete event
// comes first, the cycle's Reserve after it. The pod must not hold a slot.
func TestReservationsForgetDeletedBeforeReserve(t *testing.T) {
	t.Parallel()
	r := NewReservations(time.Minute)
	g := groupKey{"team", "runtime"}
	r.Reserve(Reservation{UID: "held", Node: "n-0", Group: g}, t0)
	r.Forget("held", t0.Add(time.Second))
	if _, ok := r.Get("held"); ok {
		t.Fatal("Forget kept an existing reservation")
	}
	r.Forget("late", t0)
	if r.Reserve(Reservation{UID: "late", Node: "n-0", Group: g}, t0.Add(time.Second)) {
		t.Fatal("Reserve accepted a pod deleted a second ago")
	}
	if got := r.Count(t0.Add(time.Second)); got != 0 {
		t.Fatalf("count = %d, want 0", got)
	}
	// The memory of the delete lasts one TTL, then Prune ends it (UIDs are
	// never reused, so this only bounds memory).
	r.Prune(Build(Input{Now: t0}), t0.Add(61*time.Second))
	if !r.Reserve(Reservation{UID: "late", Node: "n-0", Group: g}, t0.Add(time.Minute)) {
		t.Fatal("the delete was remembered beyond the TTL")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.gone) != 0 {
		t.Fatalf("gone not pruned: %v", r.gone)
	}
}
