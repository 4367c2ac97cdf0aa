//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"

	"github.com/hdscale/hdscale/internal/policy"
)

// How long a namespace (with its pods) may take to disappear.
const namespaceGoneTimeout = 3 * time.Minute

// nsOptions say how a test namespace is cleaned up.
type nsOptions struct {
	// waitGone makes the cleanup wait until the namespace is deleted, for
	// tests whose pods would otherwise still occupy the pool when the next
	// test starts.
	waitGone bool
}

// patternLabels are the namespace labels opting into pattern p, plus extra
// hdscale labels (e.g. conflict, mode).
func patternLabels(p policy.Pattern, extra ...string) map[string]string {
	l := map[string]string{policy.LabelPattern: string(p)}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

// newNamespace creates a uniquely named namespace e2e-<prefix>-<random> with
// labels and deletes it when t ends. On failure the namespace's pods, events
// and the extender's view of its pending pods are printed first.
func newNamespace(t *testing.T, prefix string, labels map[string]string, o nsOptions) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   fmt.Sprintf("e2e-%s-%s", prefix, utilrand.String(5)),
		Labels: map[string]string{e2eLabel: "true"},
	}}
	for k, v := range labels {
		ns.Labels[k] = v
	}
	ctx, cancel := callContext(t)
	defer cancel()
	got, err := suite.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s with labels %v: %v", ns.Name, labels, err)
	}
	name := got.Name
	// Cleanups run last-registered first: dump, then delete.
	t.Cleanup(func() { deleteNamespace(t, name, o.waitGone) })
	t.Cleanup(func() {
		if t.Failed() {
			dumpNamespace(t, name)
		}
	})
	if _, ok := labels[policy.LabelPattern]; ok {
		waitNamespaceKnown(t, name)
	}
	return name
}

// webhookCacheMiss is the webhook's answer for a namespace its informer has
// not seen yet (webhook/mutate.go); it makes the API server refuse the pod.
const webhookCacheMiss = "is not in the webhook's cache yet"

// waitNamespaceKnown waits until the webhook replicas answer for namespace
// ns without the cache-miss error: a few dry-run runtime pods in a row (the
// Service spreads them over the replicas) get any other answer.
func waitNamespaceKnown(t *testing.T, ns string) {
	t.Helper()
	streak := 0
	waitForEvery(t, 200*time.Millisecond, time.Minute, "the webhook to know namespace "+ns, func(ctx context.Context) (bool, string, error) {
		_, err := suite.client.CoreV1().Pods(ns).Create(ctx, podFrom(ns, "probe", runtimeTemplate("probe")),
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), webhookCacheMiss) {
			streak = 0
			return false, err.Error(), nil
		}
		streak++
		return streak >= 4, fmt.Sprintf("%d answers in a row without a cache miss", streak), nil
	})
}

// deleteNamespace deletes ns and, if wait, waits until it is gone.
func deleteNamespace(t *testing.T, ns string, wait bool) {
	t.Helper()
	if suite.keep {
		t.Logf("-keep: leaving namespace %s", ns)
		return
	}
	ctx, cancel := callContext(t)
	defer cancel()
	// Zero grace period: the suite's pods hold nothing worth draining, and
	// placement tests must not wait 30 s per pod for the pool to free up.
	zero := int64(0)
	_ = suite.client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	err := suite.client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting namespace %s: %v", ns, err)
		return
	}
	if !wait {
		return
	}
	waitFor(t, namespaceGoneTimeout, "namespace "+ns+" to be deleted", namespaceGone(ns))
}

func namespaceGone(ns string) check {
	return func(ctx context.Context) (bool, string, error) {
		n, err := suite.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, "gone", nil
		}
		if err != nil {
			return false, "", err
		}
		pods, _ := suite.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		var names []string
		if pods != nil {
			for _, p := range pods.Items {
				names = append(names, p.Name+"("+string(p.Status.Phase)+")")
			}
		}
		return false, fmt.Sprintf("namespace %s is %s, pods %v", ns, n.Status.Phase, names), nil
	}
}

// demoLabel marks the namespaces of `make demo` (e2e/tools/demo.sh), whose
// runtime replicas fill the pool.
const demoLabel = "hdscale-demo"

// staleSelectors select the namespaces an earlier run or `make demo` left.
var staleSelectors = []string{e2eLabel + "=true", demoLabel + "=true"}

// listStale lists the namespaces of every staleSelectors.
func (e *suiteEnv) listStale(ctx context.Context) ([]corev1.Namespace, error) {
	var out []corev1.Namespace
	for _, sel := range staleSelectors {
		l, err := e.client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, err
		}
		out = append(out, l.Items...)
	}
	return out, nil
}

// sweepStaleNamespaces deletes namespaces an aborted earlier run (or a
// `make demo`) left behind and waits until they are gone, so their pods do
// not occupy the pool.
func (e *suiteEnv) sweepStaleNamespaces(ctx context.Context) error {
	items, err := e.listStale(ctx)
	if err != nil {
		return fmt.Errorf("listing stale e2e namespaces: %w", err)
	}
	if len(items) == 0 {
		return nil
	}
	var names []string
	zero := int64(0)
	for _, ns := range items {
		names = append(names, ns.Name)
		_ = e.client.CoreV1().Pods(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
		if err := e.client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting stale namespace %s: %w", ns.Name, err)
		}
	}
	fmt.Printf("e2e: deleting namespaces left by an earlier run or make demo: %s\n", strings.Join(names, ", "))
	_, err = poll(ctx, time.Second, namespaceGoneTimeout, "stale e2e namespaces to be deleted", func(ctx context.Context) (bool, string, error) {
		items, err := e.listStale(ctx)
		if err != nil {
			return false, "", err
		}
		var left []string
		for _, ns := range items {
			left = append(left, ns.Name)
		}
		return len(left) == 0, fmt.Sprintf("still there: %v", left), nil
	})
	return err
}
