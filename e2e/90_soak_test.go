//go:build e2e

package e2e

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	res := sampleResources(t, 30*time.Second)
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
	res.stop()
	res.report(t, 5*time.Minute)
}

// resourceSample is one reading of an hdscale process's /metrics.
type resourceSample struct {
	at                    time.Time
	rss, heap, goroutines float64
}

// resourceSampler reads RSS, heap in use and goroutines of every hdscale
// pod (webhook, extender) every interval, through the private /metrics.
type resourceSampler struct {
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	samples map[string][]resourceSample
	errs    int
}

func sampleResources(t *testing.T, interval time.Duration) *resourceSampler {
	ctx, cancel := context.WithCancel(context.Background())
	r := &resourceSampler{cancel: cancel, done: make(chan struct{}), samples: map[string][]resourceSample{}}
	go func() {
		defer close(r.done)
		_ = pollForever(ctx, interval, r.sample)
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *resourceSampler) stop() {
	r.cancel()
	<-r.done
}

func (r *resourceSampler) sample(ctx context.Context) {
	for _, d := range []struct {
		deploy string
		port   int
	}{{webhookDeployment, webhookPrivatePort}, {schedulerDeploy, extenderPrivatePort}} {
		dep, err := suite.client.AppsV1().Deployments(systemNamespace).Get(ctx, d.deploy, metav1.GetOptions{})
		if err != nil {
			r.fail()
			continue
		}
		pods, err := deploymentPods(ctx, dep)
		if err != nil {
			r.fail()
			continue
		}
		for _, p := range pods {
			b, err := privateGet(ctx, systemNamespace, p.Name, d.port, "/metrics", nil)
			if err != nil {
				r.fail()
				continue
			}
			m := parsePrometheusText(string(b))
			r.mu.Lock()
			r.samples[p.Name] = append(r.samples[p.Name], resourceSample{at: time.Now(),
				rss: m["process_resident_memory_bytes"], heap: m["go_memstats_heap_inuse_bytes"], goroutines: m["go_goroutines"]})
			r.mu.Unlock()
		}
	}
}

func (r *resourceSampler) fail() {
	r.mu.Lock()
	r.errs++
	r.mu.Unlock()
}

// report logs, per process, the mean of the first and of the last window
// and fails when goroutines or heap grew beyond noise: goroutines by more
// than 20 % + 10, heap in use by more than 50 % + 16 MiB.
func (r *resourceSampler) report(t *testing.T, window time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	const mib = 1 << 20
	names := make([]string, 0, len(r.samples))
	for n := range r.samples {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ss := r.samples[n]
		if len(ss) < 2 || ss[len(ss)-1].at.Sub(ss[0].at) < 2*window {
			t.Logf("%s: %d samples, too few for a first/last %v comparison", n, len(ss), window)
			continue
		}
		first, last := mean(ss, ss[0].at, ss[0].at.Add(window)), mean(ss, ss[len(ss)-1].at.Add(-window), ss[len(ss)-1].at)
		t.Logf("%s: first %v vs last %v: RSS %.0f -> %.0f MiB, heap in use %.1f -> %.1f MiB, goroutines %.0f -> %.0f (%d samples)",
			n, window, window, first.rss/mib, last.rss/mib, first.heap/mib, last.heap/mib, first.goroutines, last.goroutines, len(ss))
		if last.goroutines > first.goroutines*1.2+10 {
			t.Errorf("%s: goroutines grew from %.0f to %.0f", n, first.goroutines, last.goroutines)
		}
		if last.heap > first.heap*1.5+16*mib {
			t.Errorf("%s: heap in use grew from %.1f to %.1f MiB", n, first.heap/mib, last.heap/mib)
		}
	}
	if r.errs > 0 {
		t.Logf("%d readings failed (a pod restarting, a port-forward refused)", r.errs)
	}
}

// mean averages the samples taken in [from, to].
func mean(ss []resourceSample, from, to time.Time) resourceSample {
	var m resourceSample
	n := 0.0
	for _, s := range ss {
		if s.at.Before(from) || s.at.After(to) {
			continue
		}
		m.rss, m.heap, m.goroutines = m.rss+s.rss, m.heap+s.heap, m.goroutines+s.goroutines
		n++
	}
	if n > 0 {
		m.rss, m.heap, m.goroutines = m.rss/n, m.heap/n, m.goroutines/n
	}
	return m
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
