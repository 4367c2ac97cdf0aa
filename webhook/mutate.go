package webhook

import (
	"errors"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// Outcome describes one admission for metrics and logs.
type Outcome struct {
	// Result is one of the Result* constants.
	Result string
	// Pattern and Mode are the namespace's (LabelNone when not opted in).
	Pattern string
	Mode    string
	// Reason, when set, is the errors_total reason of a bad request or failure.
	Reason string
}

// Admission results (the result label of hdscale_webhook_admissions_total).
const (
	ResultMutated   = "mutated"   // allowed with a patch
	ResultUnchanged = "unchanged" // a runtime pod in an opted-in namespace, already as the policy wants
	ResultSkipped   = "skipped"   // not in scope: not a runtime pod, not opted in, not a CREATE, not a pod
	ResultAllowed   = "allowed"   // a namespace passed validation
	ResultDenied    = "denied"    // denied by policy (bad labels, conflict=reject, no containers)
	ResultErrored   = "errored"   // the webhook could not decide (bad request, not ready, failure)
)

// LabelNone is the pattern and mode label of an admission outside any policy.
const LabelNone = "none"

// Error reasons (the reason label of hdscale_webhook_errors_total).
const (
	ReasonContentType      = "content_type"
	ReasonTooLarge         = "too_large"
	ReasonBadBody          = "bad_body"
	ReasonBadReview        = "bad_review"
	ReasonWrongKind        = "wrong_kind"
	ReasonNoObject         = "no_object"
	ReasonBadObject        = "bad_object"
	ReasonNoContainers     = "no_containers"
	ReasonContainerNames   = "container_names"
	ReasonNotReady         = "not_ready"
	ReasonUnknownNamespace = "unknown_namespace"
	ReasonBadLabels        = "bad_namespace_labels"
	ReasonInternal         = "internal"
)

var errorReasons = []string{ReasonContentType, ReasonTooLarge, ReasonBadBody, ReasonBadReview, ReasonWrongKind,
	ReasonNoObject, ReasonBadObject, ReasonNoContainers, ReasonContainerNames, ReasonNotReady, ReasonUnknownNamespace, ReasonBadLabels, ReasonInternal}

// mirrorPodAnnotation marks a static pod's mirror, which the kubelet owns.
const mirrorPodAnnotation = "kubernetes.io/config.mirror"

var podGVK = corev1.SchemeGroupVersion.WithKind("Pod")

// Mutator admits pods: it sizes and places hetida designer runtime pods in
// namespaces that opted in. It reads only cached facts.
type Mutator struct {
	Matcher    *Matcher
	Namespaces Namespaces
	Pools      Pools
	// DeclaredCPU is the node CPU (millicores) the admin declared per pool
	// (Config.Pools), used while a pool has no usable node.
	DeclaredCPU map[string]int64
	// SchedulerName is the scheduler runtime pods get (unless their namespace
	// says hdscale.io/scheduler=default).
	SchedulerName string
	// SkipNamespace (the webhook's own namespace) is never mutated.
	SkipNamespace string
	// Ready, when set, must return nil before pods are decided (caches synced).
	Ready func() error
	// SchedulerWarning, when set, returns the admission warning for a pod
	// given SchedulerName while that scheduler is down ("" while it runs).
	SchedulerWarning func() string

	// wholePods decodes every pod whole instead of slim (podwire.go): the
	// reference behaviour the tests compare the slim decode with.
	wholePods bool
}

// Admit decides one admission request. Non-pod kinds and subresources are
// allowed unchanged with a message (a webhook configuration mistake, counted
// as a wrong_kind error); operations other than CREATE are allowed unchanged.
func (m *Mutator) Admit(req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, Outcome) {
	out := Outcome{Result: ResultSkipped, Pattern: LabelNone, Mode: LabelNone}
	if gvk := (metav1.GroupVersionKind{Group: podGVK.Group, Version: podGVK.Version, Kind: podGVK.Kind}); req.Kind != gvk || req.SubResource != "" {
		out.Reason = ReasonWrongKind
		return Allowed(fmt.Sprintf("hdscale mutates only pods; %s %s (subresource %q) allowed unchanged", req.Kind.Version, req.Kind.Kind, req.SubResource)), out
	}
	if req.Operation != admissionv1.Create {
		return Allowed(""), out
	}
	fail := func(code int32, reason string, err error) (*admissionv1.AdmissionResponse, Outcome) {
		out.Result, out.Reason = ResultErrored, reason
		return Errored(code, err), out
	}
	if len(req.Object.Raw) == 0 {
		return fail(http.StatusBadRequest, ReasonNoObject, errors.New("hdscale: the admission request carries no pod"))
	}
	// The pod holds only the fields the webhook reads (podwire.go).
	decode := decodeRequestPod
	if m.wholePods {
		decode = decodeWholeRequestPod
	}
	rp, err := decode(req.Object.Raw)
	if err != nil {
		return fail(http.StatusBadRequest, ReasonBadObject, fmt.Errorf("hdscale: decoding the pod: %w", err))
	}
	pod := rp.pod
	if len(pod.Spec.Containers) == 0 {
		out.Result, out.Reason = ResultDenied, ReasonNoContainers
		return Denied("hdscale: the pod has no containers (spec.containers is empty); a pod needs at least one container"), out
	}
	nsName := req.Namespace
	if nsName == "" {
		nsName = pod.Namespace
	}
	if nsName == m.SkipNamespace && nsName != "" {
		return Allowed(""), out
	}
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		return Allowed(""), out
	}
	// The matcher needs no cache: a pod that passed the CEL matchConditions
	// but is no runtime pod is allowed even while the caches sync (only the
	// namespace-label warning needs them).
	match := m.Matcher.Match(pod)
	ns, lf := lookupNamespace(m.Ready, m.Namespaces, nsName)
	if lf != nil {
		if !match.Runtime {
			return Allowed(""), out
		}
		return fail(lf.code, lf.reason, lf.err)
	}
	pol, optedIn, perr := policy.Parse(ns.Labels)
	if optedIn && perr == nil {
		out.Pattern, out.Mode = string(pol.Pattern), string(pol.Mode)
	}
	if !match.Runtime {
		resp := Allowed("")
		if perr != nil {
			addWarnings(resp, []string{fmt.Sprintf("hdscale: namespace %s has invalid hdscale labels: %v", nsName, perr)})
		}
		return resp, out
	}
	if perr != nil {
		out.Result, out.Reason = ResultDenied, ReasonBadLabels
		return Denied(fmt.Sprintf("hdscale: namespace %s: %v", nsName, perr)), out
	}
	if !optedIn {
		return Allowed(""), out
	}
	if msg := containerNameProblem(pod); msg != "" {
		msg = "hdscale: " + msg + "; every container needs its own name (hdscale finds the runtime containers by name)"
		if pol.Mode == policy.ModeAudit { // audit never blocks a pod
			resp := Allowed("")
			addWarnings(resp, []string{msg})
			return resp, out
		}
		out.Result, out.Reason = ResultDenied, ReasonContainerNames
		return Denied(msg), out
	}

	in := PlanInput{Pod: pod, Runtime: match.Containers, Policy: pol, Pool: m.Pools.Pool(pol.Pool),
		DeclaredCPUMilli: m.DeclaredCPU[pol.Pool], SchedulerName: m.SchedulerName}
	d := Plan(in)
	var resp *admissionv1.AdmissionResponse
	switch {
	case d.Deny != "":
		resp, out.Result = Denied(d.Deny), ResultDenied
	case !d.Modified:
		resp, out.Result = Allowed(""), ResultUnchanged
	default:
		patch, err := createPatch(rp, in, d.Pod)
		var bad *podDecodeError
		switch {
		case errors.As(err, &bad):
			// The general patch path decoded the whole pod and it failed:
			// the answer a whole decode gave before any decision.
			out.Pattern, out.Mode = LabelNone, LabelNone
			return fail(http.StatusBadRequest, ReasonBadObject, fmt.Errorf("hdscale: %w", err))
		case err != nil:
			return fail(http.StatusInternalServerError, ReasonInternal, fmt.Errorf("hdscale: %w", err))
		}
		resp, out.Result = Patched(patch), ResultMutated
		if patch == nil {
			out.Result = ResultUnchanged
		}
	}
	addWarnings(resp, d.Warnings)
	if m.SchedulerWarning != nil && d.Deny == "" && d.Annotation.Scheduler != "" && pol.Mode == policy.ModeEnforce {
		if w := m.SchedulerWarning(); w != "" {
			addWarnings(resp, []string{w})
		}
	}
	if len(d.AuditAnnotations) > 0 {
		resp.AuditAnnotations = d.AuditAnnotations
	}
	return resp, out
}
