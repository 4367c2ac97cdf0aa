package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
	"github.com/hdscale/hdscale/webhook"
)

// The MutatingAdmissionPolicy: hdscale's per-core mutation of runtime pods
// (fill conflict mode, hdscale's default) in CEL, as JSON patches:
//
//   - every runtime container (image containing designer-runtime, or
//     HD_IS_BACKEND_SERVICE=false): CPU request and limit where unset,
//     WEB_CONCURRENCY and MAX_WORKERS where unset;
//   - the pool toleration and node selector, schedulerName (when default);
//   - the hdscale.io/policy annotation.
//
// Values are constants computed once at setup from the cluster's pool (the
// same policy.Size hdscale runs): a policy cannot read nodes, so unlike the
// webhook it does not follow pool changes, and it sends no warnings.
func mapVariables() []admissionregistrationv1.Variable {
	return []admissionregistrationv1.Variable{
		{Name: "rt", Expression: `object.spec.containers.transformList(i, c,
  (has(c.image) && c.image.contains('designer-runtime')) ||
  (has(c.env) && c.env.exists(e, e.name == 'HD_IS_BACKEND_SERVICE' && has(e.value) && e.value.lowerAscii() == 'false')),
  i)`},
		{Name: "cpu", Expression: strconv.Quote(mapSizing.cpu)},
		{Name: "workers", Expression: strconv.Quote(mapSizing.workers)},
		{Name: "annotation", Expression: strconv.Quote(mapSizing.annotation)},
	}
}

// sizing holds the constants the policies (the MAP's variables, the
// engines' policies) carry.
type sizing struct {
	cpu, workers, annotation string
	// containers are the bench pod's runtime containers (Gatekeeper's
	// mutators name them).
	containers []string
	// annotations are the hdscale.io/ annotations the engines write: the
	// policy annotation computed here, replaced by what hdscale's webhook
	// wrote on the bench pod when it runs (referenceAnnotations; it adds
	// hdscale.io/conflicts in fill mode).
	annotations map[string]string
}

// mapSizing is computed once at setup (computeMapSizing).
var mapSizing = sizing{cpu: "1", workers: "1", annotation: "{}"}

const mapPatchExpression = `
variables.rt.filter(i, !has(object.spec.containers[i].resources)).map(i,
  JSONPatch{op: "add", path: "/spec/containers/" + string(i) + "/resources",
    value: {"requests": {"cpu": variables.cpu}, "limits": {"cpu": variables.cpu}}}) +
variables.rt.filter(i, has(object.spec.containers[i].resources) && !has(object.spec.containers[i].resources.requests)).map(i,
  JSONPatch{op: "add", path: "/spec/containers/" + string(i) + "/resources/requests", value: {"cpu": variables.cpu}}) +
variables.rt.filter(i, has(object.spec.containers[i].resources) && has(object.spec.containers[i].resources.requests) &&
    !("cpu" in object.spec.containers[i].resources.requests)).map(i,
  JSONPatch{op: "add", path: "/spec/containers/" + string(i) + "/resources/requests/cpu", value: variables.cpu}) +
variables.rt.filter(i, has(object.spec.containers[i].resources) && !has(object.spec.containers[i].resources.limits)).map(i,
  JSONPatch{op: "add", path: "/spec/containers/" + string(i) + "/resources/limits", value: {"cpu": variables.cpu}}) +
variables.rt.filter(i, has(object.spec.containers[i].resources) && has(object.spec.containers[i].resources.limits) &&
    !("cpu" in object.spec.containers[i].resources.limits)).map(i,
  JSONPatch{op: "add", path: "/spec/containers/" + string(i) + "/resources/limits/cpu", value: variables.cpu}) +
variables.rt.filter(i, !has(object.spec.containers[i].env)).map(i,
  JSONPatch{op: "add", path: "/spec/containers/" + string(i) + "/env", value: [
    Object.spec.containers.env{name: "WEB_CONCURRENCY", value: variables.workers},
    Object.spec.containers.env{name: "MAX_WORKERS", value: variables.workers}]}) +
variables.rt.filter(i, has(object.spec.containers[i].env) && !object.spec.containers[i].env.exists(e, e.name == "WEB_CONCURRENCY")).map(i,
  JSONPatch{op: "add", path: "/spec/containers/" + string(i) + "/env/-",
    value: Object.spec.containers.env{name: "WEB_CONCURRENCY", value: variables.workers}}) +
variables.rt.filter(i, has(object.spec.containers[i].env) && !object.spec.containers[i].env.exists(e, e.name == "MAX_WORKERS")).map(i,
  JSONPatch{op: "add", path: "/spec/containers/" + string(i) + "/env/-",
    value: Object.spec.containers.env{name: "MAX_WORKERS", value: variables.workers}}) +
(has(object.spec.tolerations) && object.spec.tolerations.exists(t, has(t.key) && t.key == "hdscale.io/pool") ? [] :
  has(object.spec.tolerations) ?
    [JSONPatch{op: "add", path: "/spec/tolerations/-",
      value: Object.spec.tolerations{key: "hdscale.io/pool", operator: "Equal", value: "runtime", effect: "NoSchedule"}}] :
    [JSONPatch{op: "add", path: "/spec/tolerations",
      value: [Object.spec.tolerations{key: "hdscale.io/pool", operator: "Equal", value: "runtime", effect: "NoSchedule"}]}]) +
(!has(object.spec.nodeSelector) ?
  [JSONPatch{op: "add", path: "/spec/nodeSelector", value: {"hdscale.io/pool": "runtime"}}] :
  ("hdscale.io/pool" in object.spec.nodeSelector ? [] :
    [JSONPatch{op: "add", path: "/spec/nodeSelector/" + jsonpatch.escapeKey("hdscale.io/pool"), value: "runtime"}])) +
(!has(object.spec.schedulerName) || object.spec.schedulerName == "" || object.spec.schedulerName == "default-scheduler" ?
  [JSONPatch{op: "add", path: "/spec/schedulerName", value: "hdscale-scheduler"}] : []) +
(has(object.metadata.annotations) ?
  [JSONPatch{op: "add", path: "/metadata/annotations/" + jsonpatch.escapeKey("hdscale.io/policy"), value: variables.annotation}] :
  [JSONPatch{op: "add", path: "/metadata/annotations", value: {"hdscale.io/policy": variables.annotation}}])
`

// computeMapSizing sizes like hdscale for a per-core namespace in the
// cluster's current pool (nodes and DaemonSets, the pool model of internal/pool).
// pod is the bench pod; its runtime containers are found as the webhook finds them.
func computeMapSizing(ctx context.Context, c kubernetes.Interface, nsLabels map[string]string, pod *corev1.Pod) error {
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	dss, err := c.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	np := make([]*corev1.Node, len(nodes.Items))
	for i := range nodes.Items {
		np[i] = &nodes.Items[i]
	}
	dp := make([]*appsv1.DaemonSet, len(dss.Items))
	for i := range dss.Items {
		dp[i] = &dss.Items[i]
	}
	ns, _, err := policy.Parse(nsLabels)
	if err != nil {
		return err
	}
	p := pool.Facts(np, dp, pool.DefaultShapeTolerance)[ns.Pool]
	m := webhook.NewMatcher(webhook.DefaultConfig()).Match(pod)
	if !m.Runtime {
		return fmt.Errorf("the bench pod %s is not a runtime pod", pod.Name)
	}
	names := make([]string, len(m.Containers))
	for j, i := range m.Containers {
		names[j] = pod.Spec.Containers[i].Name
	}
	s := policy.Size(ns, pool.BudgetFor(p, 0, pod, m.Containers))
	if s.CPURequestMilli != s.CPULimitMilli {
		return fmt.Errorf("per-core sizing with request %dm != limit %dm: the policy sets one value", s.CPURequestMilli, s.CPULimitMilli)
	}
	mapSizing.cpu = policy.MilliString(s.CPURequestMilli)
	mapSizing.workers = strconv.Itoa(s.Workers)
	mapSizing.annotation = policy.NewAnnotation(ns, s, names, webhook.DefaultSchedulerName).Encode()
	mapSizing.containers = names
	mapSizing.annotations = map[string]string{policy.AnnotationPolicy: mapSizing.annotation}
	return nil
}

// Effect is what one variant did to the bench pod (from a dry-run create).
type Effect struct {
	Variant       string `json:"variant"`
	SchedulerName string `json:"schedulerName"`
	Toleration    bool   `json:"poolToleration"`
	NodeSelector  bool   `json:"poolNodeSelector"`
	CPU           string `json:"cpu"`
	Env           string `json:"env"`
	Annotation    bool   `json:"policyAnnotation"`
	// NoopAnnotation: the patching no-op webhook's annotation is there.
	NoopAnnotation bool `json:"noopAnnotation"`
	Warnings       int  `json:"warnings"`
	// SameAsHdscale: a policy engine wrote exactly the fields hdscale's
	// webhook writes (mutationDiff); empty for the other variants.
	SameAsHdscale string `json:"sameAsHdscale,omitempty"`
}

func effectOf(v string, p *corev1.Pod, warnings int) Effect {
	e := Effect{Variant: v, SchedulerName: p.Spec.SchedulerName, Warnings: warnings}
	for _, t := range p.Spec.Tolerations {
		if t.Key == policy.NodePoolKey {
			e.Toleration = true
		}
	}
	_, e.NodeSelector = p.Spec.NodeSelector[policy.NodePoolKey]
	_, e.Annotation = p.Annotations[policy.AnnotationPolicy]
	_, e.NoopAnnotation = p.Annotations[noopPatchAnnotation]
	m := webhook.NewMatcher(webhook.DefaultConfig()).Match(p)
	var cpu, env []string
	for _, i := range m.Containers {
		c := p.Spec.Containers[i]
		req, lim := c.Resources.Requests[corev1.ResourceCPU], c.Resources.Limits[corev1.ResourceCPU]
		cpu = append(cpu, fmt.Sprintf("%s/%s", req.String(), lim.String()))
		var kv []string
		for _, ev := range c.Env {
			if ev.Name == "WEB_CONCURRENCY" || ev.Name == "MAX_WORKERS" {
				kv = append(kv, ev.Name+"="+ev.Value)
			}
		}
		env = append(env, strings.Join(kv, " "))
	}
	e.CPU, e.Env = strings.Join(cpu, "; "), strings.Join(env, "; ")
	return e
}

// expectMutated says whether a variant should have applied hdscale's
// placement.
func expectMutated(v string) bool {
	_, isEngine := engineOf(v)
	return v == "map" || v == "hdscale" || isEngine
}

// asExpected says whether the dry-run answer got is what variant v should
// return (the cheap per-request check of the measurement loop): hdscale's
// placement exactly for map and hdscale, and the patching no-op webhook's
// annotation exactly for noop-patch (so the API server did apply a patch).
func asExpected(v string, got *corev1.Pod) bool {
	if (got.Spec.SchedulerName == webhook.DefaultSchedulerName) != expectMutated(v) {
		return false
	}
	_, patched := got.Annotations[noopPatchAnnotation]
	return patched == (v == "noop-patch")
}
