package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/utils/clock"
)

// DefaultMaxRequestBytes caps an AdmissionReview body (the API server limits
// objects to about 1.5 MiB; a review may carry the object twice on UPDATE).
const DefaultMaxRequestBytes = 3 << 20

// AdmitFunc decides one admission request.
type AdmitFunc func(*admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, Outcome)

// Handler serves one admission webhook path over HTTP: it checks the content
// type, caps the body, decodes the AdmissionReview, calls Admit and writes the
// answer, logging and counting everything. Wrap it in serving.Recover.
type Handler struct {
	// Path labels metrics and logs (PathMutate or PathValidateNamespace).
	Path     string
	Admit    AdmitFunc
	Metrics  *Metrics
	Log      logr.Logger
	MaxBytes int64
	Clock    clock.PassiveClock
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.Clock.Now()
	if r.Method != http.MethodPost {
		h.reject(w, http.StatusMethodNotAllowed, ReasonBadBody, fmt.Errorf("method %s not allowed; use POST", r.Method))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.reject(w, http.StatusUnsupportedMediaType, ReasonContentType,
			fmt.Errorf("content type %q is not supported; send application/json", r.Header.Get("Content-Type")))
		return
	}
	if r.ContentLength > h.MaxBytes {
		h.reject(w, http.StatusRequestEntityTooLarge, ReasonTooLarge, fmt.Errorf("body of %d bytes exceeds the limit of %d", r.ContentLength, h.MaxBytes))
		return
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.MaxBytes)); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.reject(w, http.StatusRequestEntityTooLarge, ReasonTooLarge, fmt.Errorf("body exceeds the limit of %d bytes", h.MaxBytes))
			return
		}
		h.reject(w, http.StatusBadRequest, ReasonBadBody, fmt.Errorf("reading the body: %w", err))
		return
	}
	review, err := decodeReview(buf.Bytes())
	if err != nil {
		h.reject(w, http.StatusBadRequest, ReasonBadReview, err)
		return
	}
	req := review.Request
	resp, out := h.Admit(req)
	body, err := json.Marshal(newReview(req.UID, resp))
	if err != nil { // cannot happen with the types involved
		h.reject(w, http.StatusInternalServerError, ReasonInternal, fmt.Errorf("encoding the response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)

	h.Metrics.observe(h.Path, out, h.Clock.Since(start).Seconds(), len(resp.Warnings))
	kv := []any{"path", h.Path, "uid", req.UID, "operation", req.Operation, "kind", req.Kind.Kind,
		"namespace", req.Namespace, "name", req.Name, "result", out.Result, "pattern", out.Pattern, "mode", out.Mode,
		"dryRun", req.DryRun != nil && *req.DryRun, "patchBytes", len(resp.Patch), "warnings", len(resp.Warnings)}
	switch {
	case out.Result == ResultErrored:
		h.Log.Error(errors.New(resp.Result.Message), "admission failed", append(kv, "reason", out.Reason)...)
	case out.Reason != "" || out.Result == ResultDenied:
		msg := ""
		if resp.Result != nil {
			msg = resp.Result.Message
		}
		h.Log.Info("admission", append(kv, "reason", out.Reason, "message", msg)...)
	default:
		h.Log.V(1).Info("admission", kv...)
	}
}

// reject answers a request that never reached a decision with a plain-text
// HTTP error, logged and counted.
func (h *Handler) reject(w http.ResponseWriter, code int, reason string, err error) {
	h.Metrics.httpError(reason)
	h.Log.Info("rejected webhook request", "path", h.Path, "status", code, "reason", reason, "error", err.Error())
	http.Error(w, err.Error(), code)
}
