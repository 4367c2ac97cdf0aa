package pool

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Shape is a node's allocatable CPU and memory.
type Shape struct {
	CPUMilli int64 `json:"cpuMilli"`
	MemBytes int64 `json:"memoryBytes"`
}

// String is the shape as an admin reads it: "8 CPU, 31Gi", "2 CPU, 23.5Gi".
func (s Shape) String() string {
	const gi = 1 << 30
	mem := fmt.Sprintf("%.1fGi", float64(s.MemBytes)/gi)
	if s.MemBytes%gi == 0 {
		mem = fmt.Sprintf("%dGi", s.MemBytes/gi)
	}
	return fmt.Sprintf("%s CPU, %s", resource.NewMilliQuantity(s.CPUMilli, resource.DecimalSI), mem)
}

// Within reports whether s differs from ref by at most tol (relative to ref)
// in both CPU and memory; the bound is inclusive.
func (s Shape) Within(ref Shape, tol float64) bool {
	return within(s.CPUMilli, ref.CPUMilli, tol) && within(s.MemBytes, ref.MemBytes, tol)
}

func within(v, ref int64, tol float64) bool {
	lo, hi := bounds(ref, tol)
	return float64(v) >= lo && float64(v) <= hi
}

// bounds is the inclusive range of values within tol of ref.
func bounds(ref int64, tol float64) (lo, hi float64) {
	d := math.Abs(tol * float64(ref))
	return float64(ref) - d, float64(ref) + d
}

// ReferenceShape returns a pool's reference shape: the shape of the largest
// group of equal nodes. Precisely, among the given shapes of its usable
// nodes, the one with the most nodes within tolerance of it (so a few MiB of
// kubelet-reserved memory that differ per node do not split the pool), then
// the one with the most nodes of exactly that shape, then the smallest (CPU,
// then memory). The webhook sizes runtime pods for it and the extender places
// them only on usable nodes within tolerance of it. ok is false when there are no shapes. members is the number of nodes
// within tolerance of the reference.
//
// It is O(D log D + D·C·log D) for D distinct shapes and C distinct CPU
// values within tolerance of one another, so it stays cheap for pools of
// thousands of nodes whose memory differs on every node.
func ReferenceShape(shapes []Shape, tol float64) (ref Shape, members int, ok bool) {
	if len(shapes) == 0 {
		return Shape{}, 0, false
	}
	counts := make(map[Shape]int, 4)
	for _, s := range shapes {
		counts[s]++
	}
	if len(counts) == 1 {
		return shapes[0], len(shapes), true
	}
	distinct := make([]Shape, 0, len(counts))
	for s := range counts {
		distinct = append(distinct, s)
	}
	slices.SortFunc(distinct, cmpShape)
	// Group by CPU: groups[i] covers distinct[start:end] with equal CPU,
	// memory ascending; prefix[j] is the node count of distinct[:j].
	type cpuGroup struct {
		cpu        int64
		start, end int
	}
	var groups []cpuGroup
	prefix := make([]int, len(distinct)+1)
	for i, s := range distinct {
		prefix[i+1] = prefix[i] + counts[s]
		if len(groups) == 0 || groups[len(groups)-1].cpu != s.CPUMilli {
			groups = append(groups, cpuGroup{cpu: s.CPUMilli, start: i, end: i + 1})
		} else {
			groups[len(groups)-1].end = i + 1
		}
	}
	bestScore, bestExact := -1, -1
	for _, c := range distinct {
		score := 0
		cpuLo, cpuHi := bounds(c.CPUMilli, tol)
		memLo, memHi := bounds(c.MemBytes, tol)
		g := sort.Search(len(groups), func(i int) bool { return float64(groups[i].cpu) >= cpuLo })
		for ; g < len(groups) && float64(groups[g].cpu) <= cpuHi; g++ {
			mems := distinct[groups[g].start:groups[g].end]
			i := sort.Search(len(mems), func(i int) bool { return float64(mems[i].MemBytes) >= memLo })
			j := sort.Search(len(mems), func(i int) bool { return float64(mems[i].MemBytes) > memHi })
			score += prefix[groups[g].start+j] - prefix[groups[g].start+i]
		}
		// distinct is sorted ascending, so on a full tie the first (smallest) stays.
		if exact := counts[c]; score > bestScore || (score == bestScore && exact > bestExact) {
			ref, bestScore, bestExact = c, score, exact
		}
	}
	return ref, bestScore, true
}

func cmpShape(a, b Shape) int {
	if a.CPUMilli != b.CPUMilli {
		if a.CPUMilli < b.CPUMilli {
			return -1
		}
		return 1
	}
	switch {
	case a.MemBytes < b.MemBytes:
		return -1
	case a.MemBytes > b.MemBytes:
		return 1
	}
	return 0
}
