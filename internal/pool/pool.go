package pool

import (
	"slices"
	"strings"
)

// DefaultShapeTolerance is the relative difference in allocatable CPU and
// memory within which two nodes count as equal. The webhook and the extender
// must use the same value (both default to it).
const DefaultShapeTolerance = 0.05

// Pool describes one pool: the nodes labelled hdscale.io/pool=<Name>.
type Pool struct {
	Name string `json:"name"`
	// Nodes counts the labelled nodes, Usable the usable ones.
	Nodes  int `json:"nodes"`
	Usable int `json:"usable"`
	// Ref is the reference shape of the pool's nodes: those not being
	// deleted and with allocatable CPU, usable or not, so cordoning or
	// losing a node for a while (a drain, a NotReady spell) never changes
	// what the pool's pods are sized for. HasRef is false when there is no
	// such node (no node labelled, or a node group scaled to zero). Members
	// counts the usable nodes within Tolerance of it: the nodes runtime
	// replicas are placed on.
	Ref       Shape   `json:"referenceShape"`
	HasRef    bool    `json:"hasReference"`
	Members   int     `json:"members"`
	Tolerance float64 `json:"tolerance"`
	// Outliers are the usable nodes outside the reference shape (they get
	// no replicas) and Unusable the labelled nodes that are not usable,
	// both sorted by name.
	Outliers []Node `json:"outliers,omitempty"`
	Unusable []Node `json:"unusable,omitempty"`
	// ReservedCPUMilli is the largest CPU that DaemonSets request on one
	// member (set by Facts; 0 from Summarize).
	ReservedCPUMilli int64 `json:"reservedCPUMilli"`
}

// Member reports whether n is a node runtime replicas of p are placed on:
// in the pool, usable, and within tolerance of the reference shape.
func (p *Pool) Member(n Node) bool {
	return n.Pool == p.Name && n.Usable() && p.HasRef && n.Shape.Within(p.Ref, p.Tolerance)
}

// Summarize groups nodes by their hdscale.io/pool label and computes each
// pool's usable nodes, reference shape (over the nodes that count for the
// shape, see Pool.Ref), members and outliers.
func Summarize(nodes []Node, tol float64) map[string]*Pool {
	pools := map[string]*Pool{}
	shapes := map[string][]Shape{}
	for i := range nodes {
		n := &nodes[i]
		if n.Pool == "" {
			continue
		}
		p := pools[n.Pool]
		if p == nil {
			p = &Pool{Name: n.Pool, Tolerance: tol}
			pools[n.Pool] = p
		}
		p.Nodes++
		if n.Unusable != UnusableDeleting && n.Unusable != UnusableNoCPU {
			shapes[n.Pool] = append(shapes[n.Pool], n.Shape)
		}
		if !n.Usable() {
			p.Unusable = append(p.Unusable, *n)
			continue
		}
		p.Usable++
	}
	for name, p := range pools {
		p.Ref, _, p.HasRef = ReferenceShape(shapes[name], tol)
	}
	for i := range nodes {
		n := &nodes[i]
		p := pools[n.Pool]
		if p == nil || !n.Usable() {
			continue
		}
		if p.Member(*n) {
			p.Members++
		} else {
			p.Outliers = append(p.Outliers, *n)
		}
	}
	for _, p := range pools {
		slices.SortFunc(p.Outliers, byName)
		slices.SortFunc(p.Unusable, byName)
	}
	return pools
}

func byName(a, b Node) int { return strings.Compare(a.Name, b.Name) }

// Uniform is the facts of a pool of n usable nodes of shape s, DaemonSets
// reserving reservedMilli on each: what Facts computes for such a pool
// (tests, benchmarks and tools that know the pool without listing it).
func Uniform(name string, n int, s Shape, reservedMilli int64) *Pool {
	return &Pool{Name: name, Nodes: n, Usable: n, Ref: s, HasRef: n > 0, Members: n,
		Tolerance: DefaultShapeTolerance, ReservedCPUMilli: reservedMilli}
}
