//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/webhook"
)

// TestRollouts: runtime workloads written as hetida designer ships them
// (default strategy) with as many replicas as the pool holds complete
// `kubectl rollout restart` and an image change, for every pattern, and no
// node ever holds more replicas than the pattern's cap, old and new counted.
func TestRollouts(t *testing.T) {
	g := group(t)
	nodes := poolNodes(t, poolName)
	if len(nodes) != 3 {
		t.Fatalf("the e2e pool has %d nodes, the expectations below are written for 3 (%s)", len(nodes), describeNodes(nodes))
	}
	// Written out for the e2e pool (3 nodes of 2 CPU, no DaemonSet requests):
	// per-node patterns hold 1 replica per node, per-core 2 (1 CPU each).
	for _, c := range []struct {
		pattern  policy.Pattern
		replicas int32
		perNode  int
	}{
		{policy.PerNode, 3, 1},
		{policy.PerNodeSingle, 3, 1},
		{policy.PerCore, 6, 2},
	} {
		g.step(t, fmt.Sprintf("%s Deployment at full capacity (%d replicas): rollout restart and image change complete", c.pattern, c.replicas), func(t *testing.T) {
			ns := newNamespace(t, "rollout-"+string(c.pattern), patternLabels(c.pattern), nsOptions{waitGone: true})
			d := deploymentOf(ns, "rt", c.replicas, runtimeTemplate("rt"))
			d.Spec.Strategy = appsv1.DeploymentStrategy{} // as shipped: the API server's default
			runWorkload(t, d)
			got := getDeployment(t, ns, "rt")
			if ru := got.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxSurge == nil || ru.MaxSurge.String() != "0" ||
				got.Annotations[webhook.AnnotationRollout] == "" {
				t.Fatalf("strategy %+v, annotations %v: want maxSurge 0 and %s", got.Spec.Strategy, got.Annotations, webhook.AnnotationRollout)
			}
			waitWorkloadReady(t, ns, "rt", int(c.replicas))
			stop := watchCap(t, ns, "rt", c.perNode)
			defer stop()

			start := time.Now()
			if _, err := kubectl(testContext(t), nil, "-n", ns, "rollout", "restart", "deployment/rt"); err != nil {
				t.Fatal(err)
			}
			waitRolledOut(t, ns, "rt", c.replicas)
			t.Logf("rollout restart of %d replicas complete in %.1fs", c.replicas, time.Since(start).Seconds())

			// An image change: the runtime under another image name, recognised
			// by the chart's labels (both images are on the nodes).
			start = time.Now()
			patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"labels":{%q:%q,%q:"runtime"}},"spec":{"containers":[{"name":%q,"image":%q}]}}}}`,
				labelAppName, hetidaName, labelAppComponent, runtimeContainerName, suite.images.FakeRuntime)
			if _, err := kubectl(testContext(t), nil, "-n", ns, "patch", "deployment/rt", "--type=strategic", "-p", patch); err != nil {
				t.Fatal(err)
			}
			waitRolledOut(t, ns, "rt", c.replicas)
			t.Logf("image change of %d replicas complete in %.1fs", c.replicas, time.Since(start).Seconds())
			pods := waitWorkloadReady(t, ns, "rt", int(c.replicas))
			checkInPool(t, pods)
			for _, p := range pods {
				if img := runtimeContainer(&p).Image; img != suite.images.FakeRuntime {
					t.Errorf("pod %s runs %s after the image change", p.Name, img)
				}
			}
		})
	}

	g.step(t, "per-node StatefulSet at full capacity: rollout restart completes", func(t *testing.T) {
		ns := newNamespace(t, "rollout-sts", patternLabels(policy.PerNode), nsOptions{waitGone: true})
		tmpl := runtimeTemplate("rt")
		tmpl.Labels[workloadLabel] = "rt"
		sts := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rt"},
			Spec: appsv1.StatefulSetSpec{
				Replicas:            ptr.To[int32](3),
				Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{workloadLabel: "rt"}},
				Template:            tmpl,
				PodManagementPolicy: appsv1.ParallelPodManagement,
			},
		}
		ctx, cancel := callContext(t)
		_, err := suite.client.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := callContext(t)
			defer cancel()
			if err := suite.client.AppsV1().StatefulSets(ns).Delete(ctx, "rt", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("deleting the StatefulSet: %v", err)
			}
			waitPodsGone(t, ns, workloadLabel+"=rt")
		})
		waitWorkloadReady(t, ns, "rt", 3)
		stop := watchCap(t, ns, "rt", 1)
		defer stop()
		start := time.Now()
		if _, err := kubectl(testContext(t), nil, "-n", ns, "rollout", "restart", "statefulset/rt"); err != nil {
			t.Fatal(err)
		}
		if _, err := kubectl(testContext(t), nil, "-n", ns, "rollout", "status", "statefulset/rt", "--timeout=180s"); err != nil {
			t.Fatal(err)
		}
		waitWorkloadReady(t, ns, "rt", 3)
		t.Logf("StatefulSet rollout restart of 3 replicas complete in %.1fs", time.Since(start).Seconds())
	})
}

func getDeployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	d, err := suite.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting Deployment %s/%s: %v", ns, name, err)
	}
	return d
}

// waitRolledOut waits until the Deployment's newest generation is observed
// and all replicas are updated, ready and available, with no old ones left.
func waitRolledOut(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	waitFor(t, 3*time.Minute, fmt.Sprintf("Deployment %s/%s to roll out", ns, name), func(ctx context.Context) (bool, string, error) {
		d, err := suite.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		s := d.Status
		msg := fmt.Sprintf("generation %d observed %d, replicas %d updated %d ready %d available %d", d.Generation, s.ObservedGeneration,
			s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas)
		return s.ObservedGeneration >= d.Generation && s.Replicas == replicas && s.UpdatedReplicas == replicas &&
			s.ReadyReplicas == replicas && s.AvailableReplicas == replicas, msg, nil
	})
}

// watchCap polls the workload's pods (terminating ones included: they still
// hold their node) until stop is called and fails the test if a node ever
// holds more than perNode of them.
func watchCap(t *testing.T, ns, workload string, perNode int) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var worst string
	polls := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			l, err := suite.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: workloadLabel + "=" + workload})
			if err == nil {
				mu.Lock()
				polls++
				for node, n := range podsOnNodes(activePods(l.Items)) {
					if n > perNode && worst == "" {
						worst = fmt.Sprintf("node %s held %d replicas (cap %d): %s", node, n, perNode, podStates(l.Items))
					}
				}
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if worst != "" {
			t.Errorf("cap exceeded during the rollout: %s", worst)
		}
		t.Logf("cap of %d per node held over %d polls", perNode, polls)
	}
}

// activePods drops pods that hold no node resources any more.
func activePods(pods []corev1.Pod) []corev1.Pod {
	out := pods[:0:0]
	for _, p := range pods {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}
