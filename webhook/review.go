package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	sigsjson "sigs.k8s.io/json"
)

// MaxWarningLength is the longest admission warning sent, in bytes; the API
// server may truncate longer ones. Every warning passes through addWarnings,
// the one place that enforces it.
const MaxWarningLength = 120

var reviewGVK = admissionv1.SchemeGroupVersion.WithKind("AdmissionReview")

// errBadReview marks a request body that is JSON but not an admission.k8s.io/v1
// AdmissionReview with a request.
var errBadReview = errors.New("not an admission.k8s.io/v1 AdmissionReview request")

// decodeReview reads an admission.k8s.io/v1 AdmissionReview request body. It
// decodes field names case-sensitively, as the API server does.
func decodeReview(body []byte) (*admissionv1.AdmissionReview, error) {
	var r admissionv1.AdmissionReview
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &r); err != nil {
		return nil, fmt.Errorf("decoding AdmissionReview: %w", err)
	}
	if gvk := r.GroupVersionKind(); gvk != reviewGVK {
		return nil, fmt.Errorf("%w: got apiVersion %q kind %q", errBadReview, r.APIVersion, r.Kind)
	}
	if r.Request == nil {
		return nil, fmt.Errorf("%w: request is missing", errBadReview)
	}
	return &r, nil
}

// newReview wraps resp into the AdmissionReview answering the request uid.
func newReview(uid types.UID, resp *admissionv1.AdmissionResponse) *admissionv1.AdmissionReview {
	resp.UID = uid
	return &admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: reviewGVK.GroupVersion().String(), Kind: reviewGVK.Kind},
		Response: resp,
	}
}

// Allowed admits the object unchanged; msg (optional) says why.
func Allowed(msg string) *admissionv1.AdmissionResponse {
	r := &admissionv1.AdmissionResponse{Allowed: true}
	if msg != "" {
		r.Result = &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusOK, Message: msg}
	}
	return r
}

// Patched admits the object with a JSON patch (nil or empty: unchanged).
func Patched(patch []byte) *admissionv1.AdmissionResponse {
	r := &admissionv1.AdmissionResponse{Allowed: true}
	if len(patch) > 0 {
		pt := admissionv1.PatchTypeJSONPatch
		r.Patch, r.PatchType = patch, &pt
	}
	return r
}

// Denied rejects the object; the API server shows msg to the client.
func Denied(msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: msg,
	}}
}

// Errored rejects the object because the webhook could not decide (bad
// request: code 400; webhook not ready: 503; internal failure: 500).
func Errored(code int32, err error) *admissionv1.AdmissionResponse {
	reason := metav1.StatusReasonInternalError
	switch code {
	case http.StatusBadRequest:
		reason = metav1.StatusReasonBadRequest
	case http.StatusServiceUnavailable:
		reason = metav1.StatusReasonServiceUnavailable
	}
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: code, Reason: reason, Message: err.Error(),
	}}
}

// addWarnings appends warnings to r, each made printable, capped to
// MaxWarningLength bytes and not repeated.
func addWarnings(r *admissionv1.AdmissionResponse, warnings []string) {
	for _, w := range warnings {
		w = capWarning(w)
		if w == "" || containsString(r.Warnings, w) {
			continue
		}
		r.Warnings = append(r.Warnings, w)
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// capWarning replaces non-printable characters by spaces and shortens w to at
// most MaxWarningLength bytes (ending in "..." when shortened).
func capWarning(w string) string {
	w = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(w, " "))
	w = strings.TrimSpace(w)
	if len(w) <= MaxWarningLength {
		return w
	}
	cut := MaxWarningLength - len("...")
	for cut > 0 && !utf8.RuneStart(w[cut]) {
		cut--
	}
	return w[:cut] + "..."
}
