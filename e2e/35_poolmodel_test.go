//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/hdscale/hdscale/internal/policy"
)

// sidecarCPU is what the suite's sidecar requests: a service mesh proxy or a
// log shipper, injected beside the runtime.
const sidecarCPU = "100m"

// withSidecar adds a 100m sidecar to tmpl: the fake runtime on another port,
// under its own image name (so it is no runtime container).
func withSidecar(tmpl corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	tmpl.Spec.Containers = append(tmpl.Spec.Containers, corev1.Container{
		Name:            "log-shipper",
		Image:           suite.images.FakeRuntime,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Env:             []corev1.EnvVar{envVar("PORT", "9091")},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(sidecarCPU)},
		},
	})
	return tmpl
}

// TestPoolModel checks the pool model on the real cluster: the webhook sizes
// a runtime pod with a sidecar so that exactly one fits each pool node, and a
// pool without a usable node admits pods unsized, as documented, and places
// them once a node is usable again.
func TestPoolModel(t *testing.T) {
	g := group(t)
	nodes := poolNodes(t, poolName)
	t.Logf("pool %s: %s", poolName, describeNodes(nodes))

	g.step(t, "per-node with a 100m sidecar: replicas = pool nodes, all Ready, one per node", func(t *testing.T) {
		ns := newNamespace(t, "pool-sidecar", patternLabels(policy.PerNode), nsOptions{waitGone: true})
		runWorkload(t, deploymentOf(ns, "rt", int32(len(nodes)), withSidecar(runtimeTemplate("rt"))))
		pods := waitWorkloadReady(t, ns, "rt", len(nodes))
		checkInPool(t, pods)
		perNode := podsOnNodes(pods)
		for _, pn := range nodes {
			if perNode[pn.Name] != 1 {
				t.Errorf("node %s runs %d replicas, want 1 (%s)", pn.Name, perNode[pn.Name], podStates(pods))
			}
		}
		side := resource.MustParse(sidecarCPU)
		for _, p := range pods {
			c := runtimeContainer(&p)
			var pn poolNode
			for _, n := range nodes {
				if n.Name == p.Spec.NodeName {
					pn = n
				}
			}
			// runtime + sidecar + DaemonSets = the node's allocatable CPU.
			got := c.Resources.Requests.Cpu().MilliValue() + side.MilliValue() + pn.ReservedMilli
			if got != pn.AllocatableMilli {
				t.Errorf("pod %s on %s: runtime request %s + sidecar %s + DaemonSets %dm = %dm, want the node's %dm",
					p.Name, pn.Name, c.Resources.Requests.Cpu(), sidecarCPU, pn.ReservedMilli, got, pn.AllocatableMilli)
			}
			a, _, err := policy.ParseAnnotation(p.Annotations[policy.AnnotationPolicy])
			if err != nil || len(a.Containers) != 1 || a.Containers[0] != runtimeContainerName || a.PerNode != 1 {
				t.Errorf("pod %s: annotation %+v (%v), want containers [runtime], perNode 1", p.Name, a, err)
			}
		}
	})

	// Written out for the e2e pool: 3 nodes of 2 CPU, no DaemonSet requests.
	g.step(t, "every pool node cordoned: a per-node pod is sized for their shape, waits, is placed once a node is uncordoned", func(t *testing.T) {
		t.Cleanup(func() { setCordon(t, nodes, false) })
		testEmptyPool(t, emptyPoolCase{
			prefix:  "pool-cordoned",
			empty:   func() { setCordon(t, nodes, true) },
			refill:  func() { setCordon(t, nodes[:1], false) },
			warning: "pool runtime has no usable node; sized for its nodes' shape (2 CPU,",
			detail:  "pool runtime: none of its 3 nodes is usable",
			source:  policy.SizedFromPool, requestMilli: 2000, env: 5,
			placedOn: nodes[0].Name,
		})
	})
	g.step(t, "no node labelled for the pool (a node group scaled to zero): a per-node pod is admitted unsized, placed once nodes return", func(t *testing.T) {
		t.Cleanup(func() { setPoolLabel(t, nodes, true) })
		testEmptyPool(t, emptyPoolCase{
			prefix:  "pool-zero",
			empty:   func() { setPoolLabel(t, nodes, false) },
			refill:  func() { setPoolLabel(t, nodes, true) },
			warning: "pool runtime has no usable node and no declared shape: admitted unsized",
			detail:  "pool runtime: no node is labelled hdscale.io/pool=runtime",
			source:  policy.Unsized, requestMilli: 0, env: 3,
		})
	})
}

// emptyPoolCase is a way of leaving the pool without a usable node and what
// a per-node runtime pod created then gets.
type emptyPoolCase struct {
	prefix        string
	empty, refill func()
	// warning and detail are admission warnings the pod must get.
	warning, detail string
	source          policy.SizingSource
	requestMilli    int64
	// env is the number of env variables of the runtime container (3 of
	// the template, plus WEB_CONCURRENCY and MAX_WORKERS when sized).
	env int
	// placedOn, when set, is the node the pod must land on after refill.
	placedOn string
}

func testEmptyPool(t *testing.T, c emptyPoolCase) {
	t.Helper()
	ns := newNamespace(t, c.prefix, patternLabels(policy.PerNode), nsOptions{waitGone: true})
	c.empty()
	client, ws := warningClient(t)
	probe := podFrom(ns, "probe", runtimeTemplate("probe"))
	waitFor(t, time.Minute, "the webhook to see the empty pool", func(ctx context.Context) (bool, string, error) {
		ws.take()
		if _, err := client.CoreV1().Pods(ns).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			return false, "", err
		}
		got := ws.take()
		return len(warningsMention(got, c.warning)) > 0, strings.Join(got, " | "), nil
	})

	ctx, cancel := callContext(t)
	created, err := client.CoreV1().Pods(ns).Create(ctx, podFrom(ns, "rt", runtimeTemplate("rt")), metav1.CreateOptions{})
	cancel()
	if err != nil {
		t.Fatalf("creating the runtime pod: %v", err)
	}
	got := ws.take()
	t.Logf("admission warnings: %q", got)
	for _, want := range []string{c.warning, c.detail} {
		if len(warningsMention(got, want)) == 0 {
			t.Errorf("warnings %q lack %q", got, want)
		}
	}
	a, _, err := policy.ParseAnnotation(created.Annotations[policy.AnnotationPolicy])
	if err != nil || a.SizedFrom != c.source {
		t.Errorf("annotation %+v (%v), want sizedFrom %s", a, err, c.source)
	}
	if rc := runtimeContainer(created); rc.Resources.Requests.Cpu().MilliValue() != c.requestMilli || len(rc.Env) != c.env {
		t.Errorf("runtime container resources %v env %v, want request %dm and %d env variables", rc.Resources, rc.Env, c.requestMilli, c.env)
	}
	if created.Spec.NodeSelector[policy.NodePoolKey] != poolName || created.Spec.SchedulerName != schedulerName {
		t.Errorf("placement not set: selector %v scheduler %q", created.Spec.NodeSelector, created.Spec.SchedulerName)
	}
	waitFor(t, time.Minute, "a FailedScheduling event while the pool is empty", func(ctx context.Context) (bool, string, error) {
		evs, err := podEvents(ctx, ns, "rt", "FailedScheduling")
		if err != nil || len(evs) == 0 {
			return false, "no event yet", err
		}
		return true, evs[len(evs)-1].Message, nil
	})
	if p := mustGetPod(t, ns, "rt"); podScheduled(p) {
		t.Fatalf("pod placed on %s while the pool is empty", p.Spec.NodeName)
	}

	c.refill()
	start := time.Now()
	waitFor(t, time.Minute, "the pod to be placed once the pool has a usable node", func(ctx context.Context) (bool, string, error) {
		p, err := suite.client.CoreV1().Pods(ns).Get(ctx, "rt", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return p.Spec.NodeName != "", p.Spec.NodeName, nil
	})
	delay := time.Since(start)
	p := mustGetPod(t, ns, "rt")
	if c.placedOn != "" && p.Spec.NodeName != c.placedOn {
		t.Errorf("placed on %s, want %s", p.Spec.NodeName, c.placedOn)
	}
	t.Logf("placed on %s %.1fs after the pool had a usable node again", p.Spec.NodeName, delay.Seconds())
	if delay > pendingMoveBound {
		t.Errorf("placement took %.1fs, want at most %v", delay.Seconds(), pendingMoveBound)
	}
	deletePod(t, ns, "rt")
}

// setPoolLabel puts the pool label on nodes, or takes it off (their taint
// stays: the nodes are neither pool members nor open to other pods).
func setPoolLabel(t *testing.T, nodes []poolNode, labelled bool) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, policy.NodePoolKey, poolName)
	if !labelled {
		patch = fmt.Sprintf(`{"metadata":{"labels":{%q:null}}}`, policy.NodePoolKey)
	}
	for _, n := range nodes {
		if _, err := suite.client.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Errorf("setting the pool label of %s (%v): %v", n.Name, labelled, err)
		}
	}
}

// setCordon sets spec.unschedulable of nodes.
func setCordon(t *testing.T, nodes []poolNode, cordon bool) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	patch := []byte(fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, cordon))
	for _, n := range nodes {
		if _, err := suite.client.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Errorf("setting unschedulable=%t on %s: %v", cordon, n.Name, err)
		}
	}
}

func mustGetPod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	p, err := suite.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting pod %s/%s: %v", ns, name, err)
	}
	return p
}

func deletePod(t *testing.T, ns, name string) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	if err := suite.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Errorf("deleting pod %s/%s: %v", ns, name, err)
	}
	waitPodsGone(t, ns, workloadLabel+"="+name)
}
