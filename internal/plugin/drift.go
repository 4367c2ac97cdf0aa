package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/drift"
	"github.com/hdscale/hdscale/webhook"
)

// DriftReport is what `kubectl hdscale drift` shows.
type DriftReport struct {
	// Namespace is the namespace looked at ("" for all).
	Namespace string      `json:"namespace,omitempty"`
	Pods      []DriftPod  `json:"pods"`
	Rollouts  []RolloutTo `json:"rollouts"`
}

// DriftPod is a runtime pod that differs from what it would get now.
type DriftPod struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Pattern   string         `json:"pattern"`
	Pool      string         `json:"pool"`
	Reasons   []drift.Reason `json:"reasons"`
	Fields    []drift.Field  `json:"fields"`
	Rollout   drift.Rollout  `json:"rollout"`
}

// RolloutTo is one command that recreates drifted pods.
type RolloutTo struct {
	Command string `json:"command"`
	Note    string `json:"note,omitempty"`
	Pods    int    `json:"pods"`
}

func (r *runner) drift(ctx context.Context) (*DriftReport, error) {
	namespace := ""
	if !r.o.AllNamespaces {
		namespace = r.namespace()
	}
	cfg, err := r.webhookConfig(ctx)
	if err != nil {
		return nil, err
	}
	cl, err := r.cluster(ctx)
	if err != nil {
		return nil, err
	}
	pods, err := r.runtimePods(ctx, namespace)
	if err != nil {
		return nil, err
	}
	checker := drift.Checker{
		Planner:     webhook.NewDriftPlanner(webhook.NewMatcher(cfg), r.o.SchedulerName),
		Pool:        cl.pool,
		DeclaredCPU: cfg.DeclaredCPU(),
	}
	labels := map[string]map[string]string{}
	rep := &DriftReport{Namespace: namespace, Pods: []DriftPod{}, Rollouts: []RolloutTo{}}
	byCommand := map[string]int{}
	lookup := r.ownerLookup(ctx)
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		nsLabels, ok := labels[pod.Namespace]
		if !ok {
			ns, err := r.c.Kube.CoreV1().Namespaces().Get(ctx, pod.Namespace, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				continue // being deleted with its pods
			case err != nil:
				return nil, fmt.Errorf("reading the labels of namespace %s: %w", pod.Namespace, err)
			}
			nsLabels = ns.Labels
			labels[pod.Namespace] = nsLabels
		}
		d, ok := checker.Check(pod, nsLabels)
		if !ok {
			continue
		}
		ro := drift.RolloutFor(pod, lookup)
		rep.Pods = append(rep.Pods, DriftPod{Namespace: pod.Namespace, Name: pod.Name, Pattern: string(d.Annotation.Pattern),
			Pool: d.Annotation.Pool, Reasons: d.Reasons, Fields: d.Fields, Rollout: ro})
		if i, ok := byCommand[ro.Command]; ok {
			rep.Rollouts[i].Pods++
			continue
		}
		byCommand[ro.Command] = len(rep.Rollouts)
		rep.Rollouts = append(rep.Rollouts, RolloutTo{Command: ro.Command, Note: ro.Note, Pods: 1})
	}
	return rep, nil
}

// ownerLookup reads a ReplicaSet's controller (its Deployment), once per
// ReplicaSet.
func (r *runner) ownerLookup(ctx context.Context) drift.OwnerLookup {
	type result struct {
		ref *metav1.OwnerReference
		err error
	}
	seen := map[string]result{}
	return func(namespace string, ref metav1.OwnerReference) (*metav1.OwnerReference, error) {
		if ref.Kind != "ReplicaSet" {
			return nil, nil
		}
		key := namespace + "/" + ref.Name
		if res, ok := seen[key]; ok {
			return res.ref, res.err
		}
		var res result
		rs, err := r.c.Kube.AppsV1().ReplicaSets(namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			res.err = fmt.Errorf("reading ReplicaSet %s: %w", key, err)
		} else {
			res.ref = metav1.GetControllerOf(rs)
		}
		seen[key] = res
		return res.ref, res.err
	}
}

func (d *DriftReport) table(w io.Writer) {
	if len(d.Pods) == 0 {
		where := "in any namespace"
		if d.Namespace != "" {
			where = "in namespace " + d.Namespace
		}
		fmt.Fprintf(w, "No drifted runtime pods %s: each has what it would get if created now.\n", where)
		return
	}
	tw := newTable(w, "NAMESPACE", "POD", "REASONS", "FIELD", "NOW", "WOULD BE")
	for _, p := range d.Pods {
		reasons := make([]string, len(p.Reasons))
		for i, r := range p.Reasons {
			reasons[i] = string(r)
		}
		for i, f := range p.Fields {
			if i == 0 {
				row(tw, p.Namespace, p.Name, strings.Join(reasons, ","), f.Field, f.Now, f.WouldBe)
			} else {
				fmt.Fprintf(tw, "\t\t\t%s\t%s\t%s\n", f.Field, orText(f.Now, "-"), orText(f.WouldBe, "-"))
			}
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "To recreate them with their current decision:")
	for _, ro := range d.Rollouts {
		line := "  " + ro.Command + "   # " + plural(ro.Pods, "pod")
		if ro.Note != "" {
			line += "; " + ro.Note
		}
		fmt.Fprintln(w, line)
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
