package webhook

import (
	"errors"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"

	"github.com/hdscale/hdscale/internal/policy"
)

var namespaceGVK = metav1.GroupVersionKind{Group: "", Version: "v1", Kind: "Namespace"}

// NamespaceValidator is the validating webhook for Namespace CREATE and
// UPDATE: it denies invalid hdscale.io/ labels, so the admin sees the error
// when labelling rather than when pods are denied later.
type NamespaceValidator struct {
	// Pools, when set, adds warnings about the namespace's pool (no nodes,
	// uneven nodes) once Ready returns nil.
	Pools Pools
	Ready func() error
}

// Admit decides one namespace admission request.
func (v *NamespaceValidator) Admit(req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, Outcome) {
	out := Outcome{Result: ResultSkipped, Pattern: LabelNone, Mode: LabelNone}
	if req.Kind != namespaceGVK || req.SubResource != "" {
		out.Reason = ReasonWrongKind
		return Allowed(fmt.Sprintf("hdscale validates only namespaces; %s %s (subresource %q) allowed", req.Kind.Version, req.Kind.Kind, req.SubResource)), out
	}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return Allowed(""), out
	}
	if len(req.Object.Raw) == 0 {
		out.Result, out.Reason = ResultErrored, ReasonNoObject
		return Errored(http.StatusBadRequest, errors.New("hdscale: the admission request carries no namespace")), out
	}
	var ns metav1.PartialObjectMetadata
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(req.Object.Raw, &ns); err != nil {
		out.Result, out.Reason = ResultErrored, ReasonBadObject
		return Errored(http.StatusBadRequest, fmt.Errorf("hdscale: decoding the namespace: %w", err)), out
	}
	name := ns.Name
	if name == "" {
		name = req.Name
	}
	pol, optedIn, err := policy.Parse(ns.Labels)
	if err != nil {
		out.Result, out.Reason = ResultDenied, ReasonBadLabels
		return Denied(fmt.Sprintf("hdscale: namespace %s: %v", name, err)), out
	}
	out.Result = ResultAllowed
	resp := Allowed("")
	var warnings []string
	if optedIn {
		out.Pattern, out.Mode = string(pol.Pattern), string(pol.Mode)
		if v.Pools != nil && (v.Ready == nil || v.Ready() == nil) {
			if p := v.Pools.Pool(pol.Pool); p == nil || !p.HasRef || len(p.Outliers) > 0 {
				warnings = append(warnings, "hdscale: "+describePool(pol.Pool, p))
			}
		}
	}
	if req.Operation == admissionv1.Update {
		warnings = append(warnings, relabelWarnings(req.OldObject.Raw, pol, optedIn)...)
	}
	addWarnings(resp, warnings)
	return resp, out
}

// relabelWarnings tell the admin that running pods keep the decision they
// were admitted with when the hdscale labels change.
func relabelWarnings(oldRaw []byte, pol policy.Namespace, optedIn bool) []string {
	var old metav1.PartialObjectMetadata
	if len(oldRaw) == 0 || sigsjson.UnmarshalCaseSensitivePreserveInts(oldRaw, &old) != nil {
		return nil
	}
	oldPol, oldIn, _ := policy.Parse(old.Labels)
	switch {
	case oldIn && !optedIn:
		return []string{"hdscale: namespace opted out; running runtime pods keep their sizing until re-created"}
	case oldIn && optedIn && oldPol.LabelsHash != pol.LabelsHash:
		return []string{fmt.Sprintf("hdscale: policy changed (labelsHash %s -> %s); running pods keep theirs until re-created",
			oldPol.LabelsHash, pol.LabelsHash)}
	}
	return nil
}
