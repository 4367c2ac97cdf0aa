//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// TestPlacement checks the extender's filter: per-node patterns get one
// replica per pool node and no more, per-core at most floor(allocatable /
// pod CPU) per node, and nothing lands outside the pool.
func TestPlacement(t *testing.T) {
	g := group(t)
	nodes := poolNodes(t, poolName)
	t.Logf("pool %s: %s", poolName, describeNodes(nodes))

	// Whole-node sizing: a second replica cannot fit a node by its CPU
	// request, so kube-scheduler's own filter may refuse it before the
	// extender is asked; the event says why, whichever refuses.
	g.step(t, "per-node: one replica per pool node, one more stays Pending", func(t *testing.T) {
		testPerNodeCap(t, nodes, patternLabels(policy.PerNode), reasonInsufficientCPU, extenderCapReason)
	})
	// A small hdscale.io/cpu override: the requests would let several
	// replicas share a node, so only the extender's per-node cap holds the
	// extra replica back, and its reason must be in the event.
	g.step(t, "per-node with hdscale.io/cpu=500m: the extender's cap alone keeps one per node", func(t *testing.T) {
		testPerNodeCap(t, nodes, patternLabels(policy.PerNode, policy.LabelCPU, "500m"), extenderCapReason)
	})

	g.step(t, "per-core: at most floor(allocatable / pod CPU) per node, one beyond capacity Pending", func(t *testing.T) {
		labels := patternLabels(policy.PerCore)
		ns := newNamespace(t, "place-core", labels, nsOptions{waitGone: true})
		e, err := expectFor(labels, nodes)
		if err != nil {
			t.Fatal(err)
		}
		podCPU := e.size.CPURequestMilli
		caps := map[string]int{}
		total := 0
		for _, pn := range nodes {
			c := policy.PerCore.MaxPerNode(pn.AllocatableMilli, podCPU)
			// The node must also have room by requests (the scheduler's own fit).
			free := pn.AllocatableMilli - pn.ReservedMilli - pn.OtherRequestsMilli
			if fit := int(free / podCPU); fit < c {
				t.Logf("node %s: cap %d by the pattern, but only %d fit beside the requests already there (%dm free)", pn.Name, c, fit, free)
				c = max(fit, 0)
			}
			caps[pn.Name] = c
			total += c
		}
		if total == 0 {
			t.Fatalf("no per-core pod of %dm fits the pool (%s)", podCPU, describeNodes(nodes))
		}
		t.Logf("per-core capacity: %v = %d replicas of %dm", caps, total, podCPU)
		runWorkload(t, deploymentOf(ns, "rt", int32(total), runtimeTemplate("rt")))
		pods := waitWorkloadReady(t, ns, "rt", total)
		checkInPool(t, pods)
		for node, n := range podsOnNodes(pods) {
			if n > caps[node] {
				t.Errorf("node %s runs %d per-core replicas, cap %d", node, n, caps[node])
			}
		}
		scaleDeployment(t, ns, "rt", int32(total+1))
		pending := waitPendingWithEvent(t, ns, "rt", total, reasonInsufficientCPU, "already holds the "+string(policy.PerCore)+" cap")
		t.Logf("replica %d stays Pending: %s", total+1, pending)
	})
}

// testPerNodeCap: as many replicas as pool nodes land one per node, on
// every node; one more stays Pending with a FailedScheduling event (whose
// message contains reason, when given).
func testPerNodeCap(t *testing.T, nodes []poolNode, labels map[string]string, reasons ...string) {
	ns := newNamespace(t, "place-node", labels, nsOptions{waitGone: true})
	n := len(nodes)
	runWorkload(t, deploymentOf(ns, "rt", int32(n), runtimeTemplate("rt")))
	pods := waitWorkloadReady(t, ns, "rt", n)
	perNode := podsOnNodes(pods)
	for _, pn := range nodes {
		if perNode[pn.Name] != 1 {
			t.Errorf("node %s runs %d replicas, want exactly 1 (placement: %s)", pn.Name, perNode[pn.Name], podStates(pods))
		}
	}
	checkInPool(t, pods)

	scaleDeployment(t, ns, "rt", int32(n+1))
	pending := waitPendingWithEvent(t, ns, "rt", n, reasons...)
	t.Logf("replica %d stays Pending: %s", n+1, pending)
	// The replicas already placed stay where they were.
	ctx, cancel := callContext(t)
	defer cancel()
	now, err := workloadPods(ctx, ns, "rt")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		found := false
		for _, q := range now {
			found = found || (q.Name == p.Name && q.Spec.NodeName == p.Spec.NodeName)
		}
		if !found {
			t.Errorf("pod %s on %s disappeared or moved after scaling up", p.Name, p.Spec.NodeName)
		}
	}
}

// reasonInsufficientCPU is kube-scheduler's NodeResourcesFit reason: with
// whole-node or whole-core sizing the requests alone refuse a replica beyond
// the cap, before the extender is asked.
const reasonInsufficientCPU = "Insufficient cpu"

// checkInPool fails for every pod not on a pool node.
func checkInPool(t *testing.T, pods []corev1.Pod) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	for _, p := range pods {
		ok, err := isPoolNode(ctx, p.Spec.NodeName, poolName)
		if err != nil || !ok {
			t.Errorf("pod %s landed on %q outside pool %s (%v)", p.Name, p.Spec.NodeName, poolName, err)
		}
	}
}

// waitPendingWithEvent waits until the workload has placed exactly placed
// pods and one more is Pending unscheduled with a FailedScheduling event whose
// message contains reason (any message when reason is empty), and returns
// that message. reasons are alternatives: the message must contain one.
func waitPendingWithEvent(t *testing.T, ns, workload string, placed int, reasons ...string) string {
	t.Helper()
	var msg string
	what := fmt.Sprintf("%d placed pods of %s/%s and one Pending with a FailedScheduling event", placed, ns, workload)
	if len(reasons) > 0 {
		what += fmt.Sprintf(" mentioning one of %q", reasons)
	}
	waitFor(t, 2*time.Minute, what, func(ctx context.Context) (bool, string, error) {
		pods, err := workloadPods(ctx, ns, workload)
		if err != nil {
			return false, "", err
		}
		var pending []corev1.Pod
		scheduled := 0
		for _, p := range pods {
			if podScheduled(&p) {
				scheduled++
			} else {
				pending = append(pending, p)
			}
		}
		if scheduled != placed || len(pending) != 1 {
			return false, fmt.Sprintf("%d scheduled, %d pending: %s", scheduled, len(pending), podStates(pods)), nil
		}
		evs, err := podEvents(ctx, ns, pending[0].Name, "FailedScheduling")
		if err != nil {
			return false, "", err
		}
		for _, e := range evs {
			if len(reasons) == 0 {
				msg = e.Message
				return true, msg, nil
			}
			for _, r := range reasons {
				if strings.Contains(e.Message, r) {
					msg = e.Message
					return true, msg, nil
				}
			}
		}
		var msgs []string
		for _, e := range evs {
			msgs = append(msgs, e.Message)
		}
		return false, fmt.Sprintf("pending %s, FailedScheduling events: %q", pending[0].Name, msgs), nil
	})
	return msg
}

// podEvents lists the events of reason about pod ns/name, oldest first.
func podEvents(ctx context.Context, ns, name, reason string) ([]corev1.Event, error) {
	l, err := suite.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Pod,involvedObject.name=" + name + ",reason=" + reason,
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(l.Items, func(i, j int) bool { return eventTime(&l.Items[i]).Before(eventTime(&l.Items[j])) })
	return l.Items, nil
}
