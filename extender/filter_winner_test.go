package extender

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/hdscale/hdscale/internal/policy"
	v1 "k8s.io/api/core/v1"
)

// TestFilterToWinnerPlacesLikeClassic: for random pools (loads, stale and
// missing samples, bound replicas, other namespaces) and runtime pods of
// every pattern, the node /filter answers with by default is the node the
// classic exchange (filter, then prioritize over the survivors, take the
// unique maximum) places the pod on, and nothing is placed when nothing
// passes. Each case runs on two fresh extenders fed the same facts.
func TestFilterToWinnerPlacesLikeClassic(t *testing.T) {
	t.Parallel()
	patterns := []policy.Pattern{policy.PerCore, policy.PerNode, policy.PerNodeSingle}
	for seed := int64(1); seed <= 60; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewSource(seed))
			n := 2 + rng.Intn(7)
			nodes := poolNodes("r", "runtime", n)
			if rng.Intn(3) == 0 { // an odd-shaped pool node and a foreign one
				nodes = append(nodes, node("odd", "runtime", 8000, 32*gi), node("gpu-0", "gpu", 4000, 16*gi))
			}
			var pods []*v1.Pod
			var samples []NodeSample
			for i := range n {
				name := fmt.Sprintf("r-%d", i)
				switch rng.Intn(4) {
				case 0: // no sample: requests fallback
				case 1: // stale sample
					samples = append(samples, sample(name, int64(rng.Intn(4000)), t0.Add(-10*time.Minute)))
				default:
					samples = append(samples, sample(name, int64(rng.Intn(4000)), t0.Add(-5*time.Second)))
				}
				for j := range rng.Intn(3) {
					ns := "team"
					if rng.Intn(2) == 0 {
						ns = "other"
					}
					p := runtimePod(ns, fmt.Sprintf("b-%d-%d", i, j), patterns[rng.Intn(3)], "runtime", 1000, 1000)
					pods = append(pods, bound(p, name, t0.Add(-time.Minute), t0.Add(-time.Minute)))
				}
			}
			names := make([]string, 0, len(nodes))
			for _, nd := range nodes {
				names = append(names, nd.Name)
			}
			rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
			pattern := patterns[rng.Intn(3)]
			req := int64(1000)
			if pattern != policy.PerCore {
				req = 3800
			}
			pod := runtimePod("team", "new", pattern, "runtime", req, 4000)

			classic, _, _ := newTestExtender(t, func(o *Options) { o.FilterToWinner = false })
			load(classic, nodes, pods, samples)
			want, _ := scheduleOne(t, classic.Handler(), pod, names)

			def, _, _ := newTestExtender(t)
			load(def, nodes, pods, samples)
			fr := filterVia(t, def.Handler(), pod, names)
			got := ""
			switch len(*fr.NodeNames) {
			case 0:
			case 1:
				got = (*fr.NodeNames)[0]
			default:
				t.Fatalf("filter answered %d nodes, want at most one: %v", len(*fr.NodeNames), *fr.NodeNames)
			}
			if got != want {
				t.Fatalf("filter-to-winner placed the %s pod on %q, the classic exchange on %q (nodes %v)", pattern, got, want, names)
			}
			if got != "" {
				if r, ok := def.res.Get(pod.UID); !ok || r.Node != got || r.Verb != verbFilter {
					t.Errorf("reservation = %+v %v, want one on %s made by filter", r, ok, got)
				}
			}
		})
	}
}
