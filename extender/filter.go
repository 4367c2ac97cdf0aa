package extender

// filterResult summarises a filter over a runtime pod.
type filterResult struct {
	Passed int
	// HotWaived is true when the hot threshold would have rejected every
	// node that passed the other rules, so it rejected none.
	HotWaived bool
}

// filter decides every node in evs (Name and Idx set) for the runtime pod:
//
//   - unknown node (not in the extender's cache) → fail (resolvable: the
//     cache catches up);
//   - node not in the pod's pool → unresolvable;
//   - node shape differs from the pool's reference shape by more than the
//     tolerance → unresolvable ("equal nodes");
//   - node cannot fit one replica (cap 0) → unresolvable;
//   - node already holds the pattern's cap of replicas of the pod's
//     namespace and pool, reservations included → fail (a replica may go);
//   - with a hot threshold, a node whose live utilisation is at or above it
//     → fail; never on fallback data, and never every node for load alone.
//
// It is pure: it reads the context's snapshot and reservations only.
func (c *evalCtx) filter(evs []nodeEval) filterResult {
	var r filterResult
	hot := 0
	for i := range evs {
		ev := &evs[i]
		ev.Score, ev.Hot = -1, false
		u := c.assess(ev)
		c.check(ev)
		if ev.Verdict == vPass {
			ev.Score = int32(scoreOf(u)) // for filterToWinner and explain
			r.Passed++
			if c.hot > 0 && ev.Live && u >= c.hot {
				ev.Hot = true
				hot++
			}
		}
	}
	if hot == 0 {
		return r
	}
	if hot == r.Passed {
		r.HotWaived = true
		return r
	}
	for i := range evs {
		if ev := &evs[i]; ev.Hot {
			ev.Verdict, ev.Reason = vFail, rHot
		}
	}
	r.Passed -= hot
	return r
}

// only returns the index of the single passing node, or -1.
func only(evs []nodeEval, passed int) int {
	if passed != 1 {
		return -1
	}
	for i := range evs {
		if evs[i].Verdict == vPass {
			return i
		}
	}
	return -1
}
