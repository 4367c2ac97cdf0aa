package extender

import (
	"math"

	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

// scoreOf maps effective utilisation to 0..MaxExtenderPriority:
//
//	score = floor(MaxExtenderPriority × (1 − min(max(util, 0), 1)))
//
// so an idle node scores 10 and a node at or above its allocatable scores 0.
func scoreOf(util float64) int64 {
	headroom := 1 - min(max(util, 0), 1)
	// The epsilon keeps 10 × 0.7 = 6.999… from flooring to 6.
	return int64(math.Floor(float64(extenderv1.MaxExtenderPriority)*headroom + 1e-9))
}

// score scores every node in evs (Name and Idx set) for the runtime pod and
// returns the index of the winner, or -1 when no node is eligible.
//
// Nodes failing the hard rules (pool, shape, cap: kube-scheduler normally
// filtered them already) score 0 and never win. Among eligible nodes the
// best is made a unique maximum: ties at the top score are broken by fewest
// runtime replicas (reservations included), then lowest utilisation, then
// node name; the other nodes at the top score are lowered by one, or, when
// the top score is 0, the winner is raised to 1. kube-scheduler, whose
// profile makes this score decisive, then picks the winner, which is what
// the caller reserves.
func (c *evalCtx) score(evs []nodeEval) int {
	for i := range evs {
		ev := &evs[i]
		u := c.assess(ev)
		c.check(ev)
		if ev.Verdict != vPass {
			ev.Score = 0
			continue
		}
		ev.Score = int32(scoreOf(u))
	}
	return pickWinner(evs)
}

// pickWinner returns the best passing node of evs (scores set), made a
// unique maximum as score describes, or -1 when none passes.
func pickWinner(evs []nodeEval) int {
	win := -1
	for i := range evs {
		if ev := &evs[i]; ev.Verdict == vPass && (win < 0 || better(ev, &evs[win])) {
			win = i
		}
	}
	if win < 0 {
		return -1
	}
	top := evs[win].Score
	if top == 0 {
		evs[win].Score = 1
		return win
	}
	for i := range evs {
		if i != win && evs[i].Verdict == vPass && evs[i].Score == top {
			evs[i].Score = top - 1
		}
	}
	return win
}

// better orders candidates: higher score, fewer runtime replicas, lower
// utilisation, smaller name.
func better(a, b *nodeEval) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if a.RuntimePods != b.RuntimePods {
		return a.RuntimePods < b.RuntimePods
	}
	if a.Util != b.Util {
		return a.Util < b.Util
	}
	return a.Name < b.Name
}
