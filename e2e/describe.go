//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// dumped remembers which namespaces were already described for a test, so a
// failure is described once even when several cleanups notice it.
var dumped sync.Map

// dumpNamespace logs, for a failed test, the namespace's pods (phase, node,
// scheduler, CPU, injected env), its events, and for each pending pod what the
// extender says about it.
func dumpNamespace(t *testing.T, ns string) {
	t.Helper()
	if _, loaded := dumped.LoadOrStore(t.Name()+"|"+ns, true); loaded {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "=== namespace %s (test failed) ===\n", ns)
	if n, err := suite.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		fmt.Fprintf(&b, "labels: %v\n", n.Labels)
	}
	pods, err := suite.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(&b, "listing pods: %v\n", err)
	} else {
		for i := range pods.Items {
			describePod(&b, &pods.Items[i])
		}
	}
	writeEvents(ctx, &b, ns)
	if pods != nil {
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Spec.NodeName == "" && p.Spec.SchedulerName == schedulerName {
				fmt.Fprintf(&b, "extender explain for %s: %s\n", p.Name, extenderExplain(ctx, p))
			}
		}
	}
	if nodes, err := listPoolNodes(ctx, poolName); err == nil {
		fmt.Fprintf(&b, "pool nodes: %s\n", describeNodes(nodes))
	}
	if usage, err := nodeCPUUsage(ctx); err == nil {
		fmt.Fprintf(&b, "node CPU usage (metrics.k8s.io): %v\n", usage)
	} else {
		fmt.Fprintf(&b, "node CPU usage: %v\n", err)
	}
	t.Log(b.String())
}

func describePod(b *strings.Builder, p *corev1.Pod) {
	fmt.Fprintf(b, "pod %s: phase=%s node=%q scheduler=%s", p.Name, p.Status.Phase, p.Spec.NodeName, p.Spec.SchedulerName)
	if p.DeletionTimestamp != nil {
		b.WriteString(" (terminating)")
	}
	b.WriteString("\n")
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			fmt.Fprintf(b, "  condition %s=%s %s: %s\n", c.Type, c.Status, c.Reason, c.Message)
		}
	}
	for _, c := range p.Spec.Containers {
		var env []string
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				env = append(env, e.Name+"="+e.Value)
			}
		}
		fmt.Fprintf(b, "  container %s image=%s requests=%v limits=%v env=%v\n", c.Name, c.Image,
			c.Resources.Requests.Cpu(), c.Resources.Limits.Cpu(), env)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil {
			fmt.Fprintf(b, "  %s waiting: %s %s\n", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)
		}
		if cs.LastTerminationState.Terminated != nil {
			tt := cs.LastTerminationState.Terminated
			fmt.Fprintf(b, "  %s last terminated: %s exit=%d %s\n", cs.Name, tt.Reason, tt.ExitCode, tt.Message)
		}
	}
	if v, ok := p.Annotations[policy.AnnotationPolicy]; ok {
		fmt.Fprintf(b, "  %s: %s\n", policy.AnnotationPolicy, v)
	}
	fmt.Fprintf(b, "  tolerations=%v nodeSelector=%v\n", p.Spec.Tolerations, p.Spec.NodeSelector)
}

// writeEvents appends the namespace's events, oldest first.
func writeEvents(ctx context.Context, b *strings.Builder, ns string) {
	ev, err := suite.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(b, "listing events: %v\n", err)
		return
	}
	sort.Slice(ev.Items, func(i, j int) bool { return eventTime(&ev.Items[i]).Before(eventTime(&ev.Items[j])) })
	for _, e := range ev.Items {
		fmt.Fprintf(b, "event %s %s/%s %s (x%d): %s\n", eventTime(&e).Format(time.TimeOnly), e.InvolvedObject.Kind,
			e.InvolvedObject.Name, e.Reason, max(e.Count, 1), e.Message)
	}
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	default:
		return e.CreationTimestamp.Time
	}
}

// dumpHdscale logs the state of hdscale's own pods and their recent logs.
func dumpHdscale(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "=== %s (test failed) ===\n", systemNamespace)
	pods, err := suite.client.CoreV1().Pods(systemNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(&b, "listing pods: %v\n", err)
	} else {
		for i := range pods.Items {
			p := &pods.Items[i]
			describePod(&b, p)
			restarted := map[string]bool{}
			for _, cs := range p.Status.ContainerStatuses {
				restarted[cs.Name] = cs.RestartCount > 0
			}
			for _, c := range p.Spec.Containers {
				writeLogs(ctx, &b, p.Name, c.Name, false)
				if restarted[c.Name] {
					writeLogs(ctx, &b, p.Name, c.Name, true)
				}
			}
		}
	}
	writeEvents(ctx, &b, systemNamespace)
	t.Log(b.String())
}

// writeLogs appends the last log lines of a container of an hdscale pod
// (of its previous instance when previous, e.g. before a crash).
func writeLogs(ctx context.Context, b *strings.Builder, pod, container string, previous bool) {
	tail := int64(30)
	what := "last log lines"
	if previous {
		what = "last log lines of the previous instance"
	}
	logs, err := suite.client.CoreV1().Pods(systemNamespace).GetLogs(pod, &corev1.PodLogOptions{Container: container, TailLines: &tail, Previous: previous}).DoRaw(ctx)
	if err != nil {
		fmt.Fprintf(b, "  %s of %s/%s: %v\n", what, pod, container, err)
		return
	}
	fmt.Fprintf(b, "  --- %s of %s/%s ---\n%s\n", what, pod, container, indent(string(logs)))
}

// dumpHdscaleOnFailure registers a cleanup that describes hdscale-system if
// t failed.
func dumpHdscaleOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			dumpHdscale(t)
		}
	})
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
