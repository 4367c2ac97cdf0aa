package main

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// mutationDiff lists where got differs from ref in every field hdscale's
// webhook writes on a per-core runtime pod: schedulerName, tolerations,
// nodeSelector, each container's resources and env (init containers too),
// and the hdscale.io/ annotations (policy, conflicts). Order within tolerations and env
// does not count (the API server and the workloads read them as sets).
// Empty means the same mutation.
func mutationDiff(ref, got *corev1.Pod) []string {
	var d []string
	field := func(name, want, have string) {
		if want != have {
			d = append(d, fmt.Sprintf("%s: hdscale %s, got %s", name, want, have))
		}
	}
	field("schedulerName", ref.Spec.SchedulerName, got.Spec.SchedulerName)
	field("tolerations", tolerationSet(ref.Spec.Tolerations), tolerationSet(got.Spec.Tolerations))
	field("nodeSelector", mapString(ref.Spec.NodeSelector), mapString(got.Spec.NodeSelector))
	field("hdscale.io/ annotations", mapString(hdscaleAnnotations(ref)), mapString(hdscaleAnnotations(got)))
	refC, gotC := containersByName(ref), containersByName(got)
	names := make([]string, 0, len(refC))
	for n := range refC {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		g, ok := gotC[n]
		if !ok {
			d = append(d, "container "+n+": missing")
			continue
		}
		r := refC[n]
		field("container "+n+" resources", resourcesString(r.Resources), resourcesString(g.Resources))
		field("container "+n+" env", envSet(r.Env), envSet(g.Env))
	}
	if len(gotC) != len(refC) {
		d = append(d, fmt.Sprintf("containers: hdscale %d, got %d", len(refC), len(gotC)))
	}
	return d
}

func containersByName(p *corev1.Pod) map[string]corev1.Container {
	out := map[string]corev1.Container{}
	for _, c := range p.Spec.InitContainers {
		out["init/"+c.Name] = c
	}
	for _, c := range p.Spec.Containers {
		out[c.Name] = c
	}
	return out
}

func tolerationSet(ts []corev1.Toleration) string {
	s := make([]string, 0, len(ts))
	for _, t := range ts {
		sec := ""
		if t.TolerationSeconds != nil {
			sec = fmt.Sprintf("/%ds", *t.TolerationSeconds)
		}
		s = append(s, fmt.Sprintf("%s%s%s:%s%s", t.Key, opString(t.Operator), t.Value, t.Effect, sec))
	}
	sort.Strings(s)
	return "[" + strings.Join(s, " ") + "]"
}

func opString(op corev1.TolerationOperator) string {
	if op == corev1.TolerationOpExists {
		return " exists "
	}
	return "="
}

func mapString(m map[string]string) string {
	s := make([]string, 0, len(m))
	for k, v := range m {
		s = append(s, k+"="+v)
	}
	sort.Strings(s)
	return "{" + strings.Join(s, " ") + "}"
}

// resourcesString prints requests and limits with canonical quantities
// ("0.5" and "500m" are the same request).
func resourcesString(r corev1.ResourceRequirements) string {
	list := func(l corev1.ResourceList) string {
		s := make([]string, 0, len(l))
		for k, q := range l {
			s = append(s, string(k)+"="+q.String())
		}
		sort.Strings(s)
		return strings.Join(s, ",")
	}
	return "requests{" + list(r.Requests) + "} limits{" + list(r.Limits) + "}"
}

func envSet(env []corev1.EnvVar) string {
	s := make([]string, 0, len(env))
	for _, e := range env {
		v := e.Value
		if e.ValueFrom != nil {
			v = fmt.Sprintf("from %v", *e.ValueFrom)
		}
		s = append(s, e.Name+"="+v)
	}
	sort.Strings(s)
	return "[" + strings.Join(s, " ") + "]"
}

func hdscaleAnnotations(p *corev1.Pod) map[string]string {
	out := map[string]string{}
	for k, v := range p.Annotations {
		if strings.HasPrefix(k, policy.Prefix) {
			out[k] = v
		}
	}
	return out
}
