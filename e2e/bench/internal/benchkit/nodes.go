package benchkit

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/hdscale/hdscale/internal/policy"
)

const (
	// LabelBench marks every object a benchmark creates; its value names the
	// benchmark (for pods also the round) so cleanup selects exactly those.
	LabelBench = "e2e.hdscale.io/bench"
	// LabelRound tells the nodes of one benchmark round apart.
	LabelRound = "e2e.hdscale.io/round"
	// AnnotationNodeCPU is the emulated background CPU of a fake node, in
	// cores. The local control plane's kwok config turns it into the node's
	// CPU counter, so metrics-server and NodeMetrics report it.
	AnnotationNodeCPU = "e2e.hdscale.io/node-cpu"
	// annotationMetricsPath tells metrics-server where kwok serves the node's
	// resource metrics.
	annotationMetricsPath = "metrics.k8s.io/resource-metrics-path"
)

// NodeSpec is one fake node of a runtime pool.
type NodeSpec struct {
	Name     string
	Pool     string
	CPUMilli int64
	// BackgroundCPU is the emulated CPU usage in cores that is not runtime pods.
	BackgroundCPU float64
	// Bench is the value of LabelBench, Round that of LabelRound ("" = none).
	Bench, Round string
}

// FakeNode is the Node object KWOK manages for spec: labelled and tainted as
// a member of the hdscale pool (unless Pool is empty), with the annotations
// that make metrics-server scrape KWOK and report the emulated CPU.
func FakeNode(s NodeSpec) *corev1.Node {
	alloc := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(s.CPUMilli, resource.DecimalSI),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("250"),
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.Name,
			Labels: map[string]string{
				policy.NodePoolKey:       s.Pool,
				LabelBench:               s.Bench,
				LabelRound:               s.Round,
				"kubernetes.io/hostname": s.Name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
			Annotations: map[string]string{
				"kwok.x-k8s.io/node":  "fake",
				annotationMetricsPath: "/metrics/nodes/" + s.Name + "/metrics/resource",
				AnnotationNodeCPU:     strconv.FormatFloat(s.BackgroundCPU, 'f', -1, 64),
			},
		},
		Spec: corev1.NodeSpec{
			Taints: []corev1.Taint{{Key: policy.NodePoolKey, Value: s.Pool, Effect: corev1.TaintEffectNoSchedule}},
		},
		Status: corev1.NodeStatus{Capacity: alloc, Allocatable: alloc},
	}
	if s.Pool == "" { // an ordinary node outside every pool
		delete(n.Labels, policy.NodePoolKey)
		n.Spec.Taints = nil
	}
	return n
}

// CreateNodes creates the nodes (parallel requests); a node that exists is
// deleted first unless it has the same bench label, pool, CPU and
// background, so a rerun reuses what it can and never inherits stale shapes.
func CreateNodes(ctx context.Context, c *Clients, specs []NodeSpec, parallel int) error {
	return forEach(ctx, len(specs), parallel, func(ctx context.Context, i int) error {
		want := FakeNode(specs[i])
		got, err := c.Kube.CoreV1().Nodes().Get(ctx, want.Name, metav1.GetOptions{})
		if err == nil {
			if sameNode(got, want) {
				return nil
			}
			if sameShape(got, want) { // relabel in place: no KWOK re-initialisation
				got.Labels, got.Annotations, got.Spec.Taints = want.Labels, want.Annotations, want.Spec.Taints
				if _, err := c.Kube.CoreV1().Nodes().Update(ctx, got, metav1.UpdateOptions{}); err != nil {
					return fmt.Errorf("updating node %s: %w", want.Name, err)
				}
				return nil
			}
			if err := deleteAndWait(ctx, c, want.Name); err != nil {
				return err
			}
		} else if !apierrors.IsNotFound(err) {
			return fmt.Errorf("getting node %s: %w", want.Name, err)
		}
		if _, err := c.Kube.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating node %s: %w", want.Name, err)
		}
		return nil
	})
}

func sameNode(got, want *corev1.Node) bool {
	return sameShape(got, want) &&
		got.Labels[LabelBench] == want.Labels[LabelBench] && got.Labels[LabelRound] == want.Labels[LabelRound] &&
		got.Labels[policy.NodePoolKey] == want.Labels[policy.NodePoolKey] &&
		got.Annotations[AnnotationNodeCPU] == want.Annotations[AnnotationNodeCPU] &&
		equality.Semantic.DeepEqual(got.Spec.Taints, want.Spec.Taints)
}

// sameShape: equal allocatable CPU (what a node's status was created with).
func sameShape(got, want *corev1.Node) bool {
	a := got.Status.Allocatable[corev1.ResourceCPU]
	b := want.Status.Allocatable[corev1.ResourceCPU]
	return a.Cmp(b) == 0
}

func deleteAndWait(ctx context.Context, c *Clients, name string) error {
	err := c.Kube.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting node %s: %w", name, err)
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := c.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

// DeleteNodes deletes every node matching the label selector sel (one
// DeleteCollection call) and waits until they are gone.
func DeleteNodes(ctx context.Context, c *Clients, sel string, timeout time.Duration) error {
	if err := c.Kube.CoreV1().Nodes().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel}); err != nil {
		return fmt.Errorf("deleting nodes %s: %w", sel, err)
	}
	return wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		l, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sel})
		return err == nil && len(l.Items) == 0, nil
	})
}

// WaitNodesReady waits until want nodes matching the selector sel are Ready.
func WaitNodesReady(ctx context.Context, c *Clients, sel string, want int, timeout time.Duration) error {
	ready := 0
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		l, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: "0"})
		if err != nil {
			return false, nil
		}
		ready = 0
		for i := range l.Items {
			for _, cond := range l.Items[i].Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready >= want, nil
	})
	if err != nil {
		return fmt.Errorf("%d of %d nodes %s Ready: %w", ready, want, sel, err)
	}
	return nil
}

// WaitNodeMetrics waits until NodeMetrics reports, for every node in want,
// a CPU usage within tolerance cores of the wanted value. Metrics-server
// needs two scrapes of a new node (one resolution, 15 s) to report a rate.
func WaitNodeMetrics(ctx context.Context, c *Clients, want map[string]float64, tolerance float64, timeout time.Duration) error {
	var missing int
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		l, err := c.Metrics.MetricsV1beta1().NodeMetricses().List(ctx, metav1.ListOptions{})
		if err != nil {
			missing = len(want)
			return false, nil
		}
		got := make(map[string]float64, len(l.Items))
		for _, m := range l.Items {
			got[m.Name] = float64(m.Usage.Cpu().MilliValue()) / 1000
		}
		missing = 0
		for name, cores := range want {
			g, ok := got[name]
			if !ok || g < cores-tolerance || g > cores+tolerance {
				missing++
			}
		}
		return missing == 0, nil
	})
	if err != nil {
		return fmt.Errorf("NodeMetrics of %d of %d nodes not as expected: %w", missing, len(want), err)
	}
	return nil
}

// DeleteOtherBenchNodes deletes the fake nodes of every other benchmark
// (LabelBench set to another value than bench): they would be part of the
// same pool and take pods.
func DeleteOtherBenchNodes(ctx context.Context, c *Clients, bench string) error {
	return DeleteNodes(ctx, c, LabelBench+","+LabelBench+"!="+bench, 5*time.Minute)
}

// forEach runs fn(0..n-1) on parallel goroutines and returns the first error.
func forEach(ctx context.Context, n, parallel int, fn func(context.Context, int) error) error {
	if parallel < 1 {
		parallel = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
