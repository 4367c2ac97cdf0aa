package webhook

import (
	"encoding/json"
	"fmt"
	"reflect"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
)

// The fast path of createPatch. Diffing two whole pods costs most of an
// admission (jsonpatch.CreatePatch decodes both documents into generic maps:
// about 1,200 allocations for a chart-sized runtime pod). A decision changes
// only a few fields, so the diff runs on a view of the pod that holds just
// those fields, and only when a check has shown that nothing outside the view
// changed. The library still computes every path; a view keeps the pod's
// layout (metadata and spec at the root, containers at their indexes), so the
// paths are the pod's. The view holds only fields the slim pod of
// podwire.go holds, and Plan changes nothing outside it, so the fast path
// works on slim pods.
//
// Both views are encoded from the typed pods, so the re-encoding artifacts
// createPatchFull must subtract cannot arise between them. The one artifact
// that matters for applying the patch to the raw pod is an empty struct the
// types always emit: the view uses pointers and omitempty, so a field the
// original leaves empty is absent from its view, and the patch "add"s it
// whole (which also replaces an explicit `{}`, `[]` or null in the raw pod).

// podView is the part of a pod a decision may change.
type podView struct {
	Metadata metaView `json:"metadata"`
	Spec     specView `json:"spec"`
}

type metaView struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type specView struct {
	NodeSelector  map[string]string   `json:"nodeSelector,omitempty"`
	SchedulerName string              `json:"schedulerName,omitempty"`
	Tolerations   []corev1.Toleration `json:"tolerations,omitempty"`
	Containers    []containerView     `json:"containers"`
}

type containerView struct {
	Env       []corev1.EnvVar              `json:"env,omitempty"`
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// viewsOf returns the views of original and mutated. A field equal in both
// is left out of both (a container keeps its place as an empty object), so
// the diff decodes only what changed.
func viewsOf(original, mutated *corev1.Pod) (a, b podView) {
	n := len(original.Spec.Containers)
	a.Spec.Containers, b.Spec.Containers = make([]containerView, n), make([]containerView, n)
	if !reflect.DeepEqual(original.Labels, mutated.Labels) {
		a.Metadata.Labels, b.Metadata.Labels = original.Labels, mutated.Labels
	}
	if !reflect.DeepEqual(original.Annotations, mutated.Annotations) {
		a.Metadata.Annotations, b.Metadata.Annotations = original.Annotations, mutated.Annotations
	}
	if !reflect.DeepEqual(original.Spec.NodeSelector, mutated.Spec.NodeSelector) {
		a.Spec.NodeSelector, b.Spec.NodeSelector = original.Spec.NodeSelector, mutated.Spec.NodeSelector
	}
	a.Spec.SchedulerName, b.Spec.SchedulerName = original.Spec.SchedulerName, mutated.Spec.SchedulerName
	if !reflect.DeepEqual(original.Spec.Tolerations, mutated.Spec.Tolerations) {
		a.Spec.Tolerations, b.Spec.Tolerations = original.Spec.Tolerations, mutated.Spec.Tolerations
	}
	for i := range n {
		oc, mc := &original.Spec.Containers[i], &mutated.Spec.Containers[i]
		if !reflect.DeepEqual(oc.Env, mc.Env) {
			a.Spec.Containers[i].Env, b.Spec.Containers[i].Env = oc.Env, mc.Env
		}
		if !reflect.DeepEqual(oc.Resources, mc.Resources) {
			a.Spec.Containers[i].Resources, b.Spec.Containers[i].Resources = resourcesView(&oc.Resources), resourcesView(&mc.Resources)
		}
	}
	return a, b
}

// resourcesView is nil for empty requirements (see the file comment).
func resourcesView(r *corev1.ResourceRequirements) *corev1.ResourceRequirements {
	if len(r.Limits) > 0 || len(r.Requests) > 0 || len(r.Claims) > 0 {
		return r
	}
	return nil
}

// onlyViewChanged reports whether original and mutated differ in view
// fields only (same containers, in the same order).
//
// It also refuses pods whose JSON may lack an object the view's paths run
// through: a view always has metadata and every container, so a pod that
// came without metadata (or with null: hasMetadata is false when the whole
// ObjectMeta decoded from it is zero, see requestPod) or with a null
// container takes the general path, which diffs against the raw pod itself.
// (The API server always sends metadata and named containers; hand-made
// requests may not.)
func onlyViewChanged(original, mutated *corev1.Pod, hasMetadata bool) bool {
	if !hasMetadata || len(original.Spec.Containers) != len(mutated.Spec.Containers) {
		return false
	}
	for i := range original.Spec.Containers {
		if original.Spec.Containers[i].Name == "" {
			return false
		}
	}
	a, b := *original, *mutated
	a.Labels, a.Annotations, b.Labels, b.Annotations = nil, nil, nil, nil
	a.Spec.NodeSelector, a.Spec.SchedulerName, a.Spec.Tolerations = nil, "", nil
	b.Spec.NodeSelector, b.Spec.SchedulerName, b.Spec.Tolerations = nil, "", nil
	a.Spec.Containers, b.Spec.Containers = nil, nil
	if !reflect.DeepEqual(a, b) {
		return false
	}
	for i := range original.Spec.Containers {
		ca, cb := original.Spec.Containers[i], mutated.Spec.Containers[i]
		ca.Env, ca.Resources, cb.Env, cb.Resources = nil, corev1.ResourceRequirements{}, nil, corev1.ResourceRequirements{}
		if !reflect.DeepEqual(ca, cb) {
			return false
		}
	}
	return true
}

// viewPatch diffs the views of original and mutated; ok is false when the
// decision changed something outside the view, or the pod's JSON may lack an
// object the view's paths run through (createPatchFull then runs).
func viewPatch(original, mutated *corev1.Pod, hasMetadata bool) (ops []jsonpatch.Operation, ok bool, err error) {
	if !onlyViewChanged(original, mutated, hasMetadata) {
		return nil, false, nil
	}
	va, vb := viewsOf(original, mutated)
	a, err := json.Marshal(va)
	if err != nil {
		return nil, false, fmt.Errorf("encoding the pod: %w", err)
	}
	b, err := json.Marshal(vb)
	if err != nil {
		return nil, false, fmt.Errorf("encoding the mutated pod: %w", err)
	}
	ops, err = jsonpatch.CreatePatch(a, b)
	if err != nil {
		return nil, false, fmt.Errorf("diffing the pod: %w", err)
	}
	return ops, true, nil
}
