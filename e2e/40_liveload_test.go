//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/hdscale/hdscale/internal/policy"
)

// Load the burner adds on the hot node, and by how much the hot node must
// be busier than every other pool node before placement is tested.
const (
	burnerWorkers  = 1
	burnerCPUMS    = 4000
	hotMarginMilli = 400
)

// TestLiveLoad checks the extender's live-load score: a runtime pod avoids a
// pool node that metrics.k8s.io shows busy, and a burst of replicas created
// at once still spreads one per node.
func TestLiveLoad(t *testing.T) {
	g := group(t)
	nodes := poolNodes(t, poolName)
	if len(nodes) < 2 {
		t.Skipf("live-load placement needs at least 2 pool nodes, have %d", len(nodes))
	}
	names := nodeNames(nodes)

	g.step(t, "per-node replicas avoid the node a CPU burner keeps busy", func(t *testing.T) {
		plain := newNamespace(t, "burner", nil, nsOptions{waitGone: true})
		hot := pickHotNode(t, names)
		b := startBurner(t, plain, hot, burnerWorkers, burnerCPUMS)
		usage := waitFor(t, 3*time.Minute, fmt.Sprintf("NodeMetrics to show %s busier than the other pool nodes by %dm", hot, hotMarginMilli),
			func(ctx context.Context) (bool, string, error) {
				u, err := nodeCPUUsage(ctx)
				if err != nil {
					return false, "", err
				}
				ok := u[hot] > 0
				for _, n := range names {
					if n != hot && u[n]+hotMarginMilli > u[hot] {
						ok = false
					}
				}
				return ok, fmt.Sprintf("usage %s; burner: %s", usageString(u, names), b.status()), nil
			})
		t.Logf("node CPU: %s", usage)
		waitExtenderSeesHot(t, hot, names)
		waitNoReservations(t)

		ns := newNamespace(t, "avoid", patternLabels(policy.PerNode), nsOptions{waitGone: true})
		runWorkload(t, deploymentOf(ns, "rt", 1, runtimeTemplate("rt")))
		pods := waitWorkloadReady(t, ns, "rt", 1)
		if pods[0].Spec.NodeName == hot {
			t.Errorf("the first replica was placed on the hot node %s (usage %s)", hot, usage)
		}
		// The second replica has the choice between the remaining cold
		// node(s) and the hot one: it must take a cold one.
		if len(names) >= 3 {
			scaleDeployment(t, ns, "rt", 2)
			pods = waitWorkloadReady(t, ns, "rt", 2)
			for _, p := range pods {
				if p.Spec.NodeName == hot {
					t.Errorf("replica %s was placed on the hot node %s: %s", p.Name, hot, podStates(pods))
				}
			}
		}
		t.Logf("placement with %s hot: %s", hot, podStates(pods))
	})

	g.step(t, "burst: per-node 0 -> all pool nodes at once, one per node", func(t *testing.T) {
		ns := newNamespace(t, "burst-node", patternLabels(policy.PerNode), nsOptions{waitGone: true})
		runWorkload(t, deploymentOf(ns, "rt", 0, runtimeTemplate("rt")))
		waitNoReservations(t)
		scaleDeployment(t, ns, "rt", int32(len(names)))
		pods := waitWorkloadReady(t, ns, "rt", len(names))
		per := podsOnNodes(pods)
		for _, n := range names {
			if per[n] != 1 {
				t.Errorf("node %s got %d replicas of the burst, want 1: %s", n, per[n], podStates(pods))
			}
		}
		checkInPool(t, pods)
	})

	g.step(t, "burst: per-core 0 -> one per pool node at once spreads (burst protection)", func(t *testing.T) {
		labels := patternLabels(policy.PerCore)
		e, err := expectFor(labels, nodes)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if policy.PerCore.MaxPerNode(n.AllocatableMilli, e.size.CPURequestMilli) < 2 {
				t.Skipf("node %s holds fewer than 2 per-core pods: the burst could not pile up anyway", n.Name)
			}
		}
		ns := newNamespace(t, "burst-core", labels, nsOptions{waitGone: true})
		runWorkload(t, deploymentOf(ns, "rt", 0, runtimeTemplate("rt")))
		waitNoReservations(t)
		scaleDeployment(t, ns, "rt", int32(len(names)))
		pods := waitWorkloadReady(t, ns, "rt", len(names))
		per := podsOnNodes(pods)
		for _, n := range names {
			if per[n] != 1 {
				t.Errorf("node %s got %d of %d per-core replicas created at once; burst protection should spread them one per node: %s",
					n, per[n], len(names), podStates(pods))
			}
		}
	})
}

// pickHotNode chooses the pool node to make busy: the one metrics.k8s.io
// shows least busy now (the one the extender would otherwise prefer), so
// that avoiding it is a decision, not luck.
func pickHotNode(t *testing.T, names []string) string {
	t.Helper()
	var hot string
	waitFor(t, 2*time.Minute, "NodeMetrics for every pool node", func(ctx context.Context) (bool, string, error) {
		u, err := nodeCPUUsage(ctx)
		if err != nil {
			return false, "", err
		}
		sorted := append([]string(nil), names...)
		sort.SliceStable(sorted, func(i, j int) bool { return u[sorted[i]] < u[sorted[j]] })
		for _, n := range names {
			if _, ok := u[n]; !ok {
				return false, "usage " + usageString(u, names), nil
			}
		}
		hot = sorted[0]
		return true, "usage " + usageString(u, names), nil
	})
	return hot
}

func usageString(u map[string]int64, names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		if v, ok := u[n]; ok {
			s += fmt.Sprintf("%s=%dm", n, v)
		} else {
			s += n + "=?"
		}
	}
	return s
}
