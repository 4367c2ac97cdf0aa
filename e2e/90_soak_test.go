//go:build e2e

package e2e

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/hdscale/hdscale/internal/policy"
)

var soakFor = flag.Duration("soak", 0, "run TestSoak for this long (0: skip it; make soak SOAK_MINUTES=30)")

// TestSoak churns runtime workloads for -soak: round after round, for each
// pattern in turn, a Deployment filling the pool is created, rolled twice
// (restart and a template change), scaled down to one and up again, and
// deleted, while the per-pattern cap is watched every 250 ms. Each round must
// end with every replica Ready on the pool, the cap never exceeded, and no
// admission error or recovered panic counted by the webhook.
func TestSoak(t *testing.T) {
	if *soakFor <= 0 {
		t.Skip("soak not requested (-soak=DURATION, make soak SOAK_MINUTES=N)")
	}
	g := group(t)
	nodes := poolNodes(t, poolName)
	if len(nodes) != 3 {
		t.Fatalf("the soak's capacities are written for the e2e pool of 3 nodes of 2 CPU (%s)", describeNodes(nodes))
	}
	capacity := map[policy.Pattern]struct {
		replicas int32
		perNode  int
	}{policy.PerNode: {3, 1}, policy.PerNodeSingle: {3, 1}, policy.PerCore: {6, 2}}
	errorsBefore, err := webhookErrorCount(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(*soakFor)
	rounds := 0
	for time.Now().Before(deadline) && !t.Failed() {
		for _, p := range policy.Patterns {
			c := capacity[p]
			g.step(t, fmt.Sprintf("round %d %s", rounds+1, p), func(t *testing.T) {
				ns := newNamespace(t, "soak-"+string(p), patternLabels(p), nsOptions{waitGone: true})
				runWorkload(t, deploymentOf(ns, "rt", c.replicas, runtimeTemplate("rt")))
				waitWorkloadReady(t, ns, "rt", int(c.replicas))
				stop := watchCap(t, ns, "rt", c.perNode)
				defer stop()
				if _, err := kubectl(testContext(t), nil, "-n", ns, "rollout", "restart", "deployment/rt"); err != nil {
					t.Fatal(err)
				}
				waitRolledOut(t, ns, "rt", c.replicas)
				patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"soak.hdscale.io/round":"%d"}}}}}`, rounds)
				if _, err := kubectl(testContext(t), nil, "-n", ns, "patch", "deployment/rt", "--type=merge", "-p", patch); err != nil {
					t.Fatal(err)
				}
				waitRolledOut(t, ns, "rt", c.replicas)
				scaleDeployment(t, ns, "rt", 1)
				waitWorkloadReady(t, ns, "rt", 1)
				scaleDeployment(t, ns, "rt", c.replicas)
				checkInPool(t, waitWorkloadReady(t, ns, "rt", int(c.replicas)))
			})
		}
		rounds++
	}
	errorsAfter, err := webhookErrorCount(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("soak: %d rounds of 3 patterns in %v; webhook errors+panics %v -> %v", rounds, *soakFor, errorsBefore, errorsAfter)
	if errorsAfter > errorsBefore {
		t.Errorf("the webhook counted %v errors or panics during the soak", errorsAfter-errorsBefore)
	}
}

// webhookErrorCount sums hdscale_webhook_errors_total (every reason) and
// hdscale_webhook_panics_total over the webhook pods.
func webhookErrorCount(ctx context.Context) (float64, error) {
	series, err := webhookSeries(ctx)
	if err != nil {
		return 0, err
	}
	var sum float64
	for name, v := range series {
		if hasMetricName(name, "hdscale_webhook_errors_total") || hasMetricName(name, "hdscale_webhook_panics_total") {
			sum += v
		}
	}
	return sum, nil
}

func hasMetricName(series, name string) bool {
	return series == name || (len(series) > len(name) && series[:len(name)] == name && series[len(name)] == '{')
}
