package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

var deploymentGVK = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}

// DeploymentMutator admits Deployments (CREATE, UPDATE) of opted-in
// namespaces whose pod template is a runtime pod, and gives them a rollout
// strategy that can progress when the pool is full (PlanRollout). Everything
// else is allowed unchanged.
type DeploymentMutator struct {
	Matcher    *Matcher
	Namespaces Namespaces
	// SkipNamespace (the webhook's own namespace) is never mutated.
	SkipNamespace string
	// Ready, when set, must return nil before Deployments are decided.
	Ready func() error
}

// Admit decides one Deployment admission request.
func (m *DeploymentMutator) Admit(req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, Outcome) {
	out := Outcome{Result: ResultSkipped, Pattern: LabelNone, Mode: LabelNone}
	if req.Kind != deploymentGVK || req.SubResource != "" {
		out.Reason = ReasonWrongKind
		return Allowed(fmt.Sprintf("hdscale mutates only apps/v1 Deployments here; %s %s (subresource %q) allowed unchanged", req.Kind.Version, req.Kind.Kind, req.SubResource)), out
	}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return Allowed(""), out
	}
	fail := func(code int32, reason string, err error) (*admissionv1.AdmissionResponse, Outcome) {
		out.Result, out.Reason = ResultErrored, reason
		return Errored(code, err), out
	}
	if len(req.Object.Raw) == 0 {
		return fail(http.StatusBadRequest, ReasonNoObject, errors.New("hdscale: the admission request carries no Deployment"))
	}
	var d appsv1.Deployment
	if err := decodeObject(req.Object.Raw, &d); err != nil {
		return fail(http.StatusBadRequest, ReasonBadObject, fmt.Errorf("hdscale: decoding the Deployment: %w", err))
	}
	nsName := req.Namespace
	if nsName == "" {
		nsName = d.Namespace
	}
	if nsName == m.SkipNamespace && nsName != "" {
		return Allowed(""), out
	}
	tmpl := &corev1.Pod{ObjectMeta: d.Spec.Template.ObjectMeta, Spec: d.Spec.Template.Spec}
	if !m.Matcher.Match(tmpl).Runtime {
		return Allowed(""), out
	}
	ns, lf := lookupNamespace(m.Ready, m.Namespaces, nsName)
	if lf != nil {
		return fail(lf.code, lf.reason, lf.err)
	}
	pol, optedIn, perr := policy.Parse(ns.Labels)
	if !optedIn || perr != nil {
		return Allowed(""), out // bad labels are reported on the pods and the namespace
	}
	out.Pattern, out.Mode = string(pol.Pattern), string(pol.Mode)
	dec := PlanRollout(d.Spec.Strategy, pol)
	var resp *admissionv1.AdmissionResponse
	switch {
	case dec.Deny != "":
		resp, out.Result = Denied(dec.Deny), ResultDenied
	case !dec.Changed():
		resp, out.Result = Allowed(""), ResultUnchanged
	default:
		patch, err := rolloutPatch(&d, dec)
		if err != nil {
			return fail(http.StatusInternalServerError, ReasonInternal, fmt.Errorf("hdscale: %w", err))
		}
		resp, out.Result = Patched(patch), ResultMutated
	}
	addWarnings(resp, dec.Warnings)
	if dec.Conflict != nil {
		resp.AuditAnnotations = map[string]string{"conflict." + strings.ReplaceAll(dec.Conflict.Field, "/", "."): dec.Conflict.auditValue()}
	}
	return resp, out
}

// rolloutPatch is the JSON patch that applies dec to d: maxSurge (and, when
// it was 0, maxUnavailable) and the hdscale.io/rollout annotation.
func rolloutPatch(d *appsv1.Deployment, dec RolloutDecision) ([]byte, error) {
	var ops []jsonpatch.Operation
	ru := d.Spec.Strategy.RollingUpdate
	switch {
	case ru == nil:
		v := map[string]any{"maxSurge": 0}
		if dec.SetMaxUnavailable {
			v["maxUnavailable"] = 1
		}
		if d.Spec.Strategy.Type == "" {
			ops = append(ops, jsonpatch.NewOperation("add", "/spec/strategy", map[string]any{"type": "RollingUpdate", "rollingUpdate": v}))
		} else {
			ops = append(ops, jsonpatch.NewOperation("add", "/spec/strategy/rollingUpdate", v))
		}
	default:
		ops = append(ops, jsonpatch.NewOperation(opFor(ru.MaxSurge != nil), "/spec/strategy/rollingUpdate/maxSurge", 0))
		if dec.SetMaxUnavailable {
			ops = append(ops, jsonpatch.NewOperation(opFor(ru.MaxUnavailable != nil), "/spec/strategy/rollingUpdate/maxUnavailable", 1))
		}
	}
	if d.Annotations == nil {
		ops = append(ops, jsonpatch.NewOperation("add", "/metadata/annotations", map[string]string{AnnotationRollout: dec.Note()}))
	} else {
		ops = append(ops, jsonpatch.NewOperation("add", "/metadata/annotations/"+escapeJSONPointer(AnnotationRollout), dec.Note()))
	}
	b, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("encoding the Deployment patch: %w", err)
	}
	return b, nil
}

func opFor(exists bool) string {
	if exists {
		return "replace"
	}
	return "add"
}

// escapeJSONPointer escapes a JSON pointer token (RFC 6901).
func escapeJSONPointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
