//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
)

// poolNode is a node of the runtime pool and what tests compute from it.
type poolNode struct {
	Name             string
	AllocatableMilli int64
	// ReservedMilli is the CPU DaemonSet pods request on the node.
	ReservedMilli int64
	// OtherRequestsMilli is the CPU requested by all pods on the node that
	// are not DaemonSet pods (pods of other tests should be gone).
	OtherRequestsMilli int64
}

// poolNodes lists the schedulable nodes labelled hdscale.io/pool=<pool>,
// sorted by name, with their allocatable CPU and what pods request there.
func poolNodes(t *testing.T, pool string) []poolNode {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	nodes, err := listPoolNodes(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) == 0 {
		t.Fatalf("no schedulable nodes labelled %s=%s: is the e2e cluster up (`make cluster-up`)?", policy.NodePoolKey, pool)
	}
	return nodes
}

func listPoolNodes(ctx context.Context, poolName string) ([]poolNode, error) {
	l, err := suite.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: policy.NodePoolKey + "=" + poolName})
	if err != nil {
		return nil, fmt.Errorf("listing pool nodes: %w", err)
	}
	var out []poolNode
	for _, n := range l.Items {
		if !pool.NodeFrom(&n).Usable() {
			continue
		}
		pn := poolNode{Name: n.Name, AllocatableMilli: n.Status.Allocatable.Cpu().MilliValue()}
		pods, err := suite.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + n.Name})
		if err != nil {
			return nil, fmt.Errorf("listing pods on %s: %w", n.Name, err)
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			req := pool.PodCPURequestMilli(&p)
			if ownedByDaemonSet(&p) {
				pn.ReservedMilli += req
			} else {
				pn.OtherRequestsMilli += req
			}
		}
		out = append(out, pn)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func ownedByDaemonSet(p *corev1.Pod) bool {
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" {
			return true
		}
	}
	return false
}

// budgetOf is what the webhook sizes a single-container runtime pod from in
// the e2e pool: its (equal) nodes' allocatable CPU and the largest DaemonSet
// reservation. The e2e cluster's pool nodes must be equal.
func budgetOf(nodes []poolNode) (policy.Budget, error) {
	b := policy.Budget{Containers: 1, Source: policy.SizedFromPool}
	for i, n := range nodes {
		if i > 0 && n.AllocatableMilli != b.NodeCPUMilli {
			return b, fmt.Errorf("pool nodes differ in allocatable CPU (%s): the e2e cluster's pool must be equal", describeNodes(nodes))
		}
		b.NodeCPUMilli = n.AllocatableMilli
		b.ReservedCPUMilli = max(b.ReservedCPUMilli, n.ReservedMilli)
	}
	return b, nil
}

func nodeNames(nodes []poolNode) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}

func describeNodes(nodes []poolNode) string {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = fmt.Sprintf("%s alloc=%dm daemonsets=%dm other=%dm", n.Name, n.AllocatableMilli, n.ReservedMilli, n.OtherRequestsMilli)
	}
	return strings.Join(parts, "; ")
}

// isPoolNode reports whether node name carries the pool label.
func isPoolNode(ctx context.Context, name, pool string) (bool, error) {
	n, err := suite.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	return n.Labels[policy.NodePoolKey] == pool, nil
}

// nodeCPUUsage reads metrics.k8s.io NodeMetrics: node name → CPU millicores.
func nodeCPUUsage(ctx context.Context) (map[string]int64, error) {
	l, err := suite.metrics.MetricsV1beta1().NodeMetricses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(l.Items))
	for _, m := range l.Items {
		out[m.Name] = m.Usage.Cpu().MilliValue()
	}
	return out, nil
}
