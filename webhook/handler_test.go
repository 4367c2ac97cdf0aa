package webhook

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/hdscale/hdscale/internal/policy"
)

var perNode = map[string]string{policy.LabelPattern: "per-node"}

func TestHandlerHTTPErrors(t *testing.T) {
	t.Parallel()
	valid := reviewBody(t, podRequest(readCase(t, "compose-runtime")))
	tests := []struct {
		name        string
		method      string
		contentType string
		body        io.Reader
		length      int64 // -1: unknown (chunked)
		code        int
		reason      string
		message     string
	}{
		{name: "wrong content type", contentType: "text/plain", body: bytes.NewReader(valid), code: http.StatusUnsupportedMediaType, reason: ReasonContentType, message: "send application/json"},
		{name: "no content type", body: bytes.NewReader(valid), code: http.StatusUnsupportedMediaType, reason: ReasonContentType},
		{name: "declared too large", contentType: "application/json", body: bytes.NewReader(valid), length: DefaultMaxRequestBytes + 1, code: http.StatusRequestEntityTooLarge, reason: ReasonTooLarge},
		{name: "streamed too large", contentType: "application/json", body: io.MultiReader(strings.NewReader(`{"apiVersion":"`), strings.NewReader(strings.Repeat("x", DefaultMaxRequestBytes))), length: -1, code: http.StatusRequestEntityTooLarge, reason: ReasonTooLarge},
		{name: "malformed json", contentType: "application/json; charset=utf-8", body: strings.NewReader(`{"apiVersion":`), code: http.StatusBadRequest, reason: ReasonBadReview, message: "decoding AdmissionReview"},
		{name: "empty body", contentType: "application/json", body: strings.NewReader(``), code: http.StatusBadRequest, reason: ReasonBadReview},
		{name: "v1beta1 review", contentType: "application/json", body: strings.NewReader(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`), code: http.StatusBadRequest, reason: ReasonBadReview, message: `got apiVersion "admission.k8s.io/v1beta1"`},
		{name: "not a review", contentType: "application/json", body: strings.NewReader(`{"apiVersion":"v1","kind":"Pod"}`), code: http.StatusBadRequest, reason: ReasonBadReview, message: "not an admission.k8s.io/v1 AdmissionReview"},
		{name: "review without request", contentType: "application/json", body: strings.NewReader(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), code: http.StatusBadRequest, reason: ReasonBadReview, message: "request is missing"},
		{name: "GET", method: http.MethodGet, contentType: "application/json", body: http.NoBody, code: http.StatusMethodNotAllowed, reason: ReasonBadBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, met := testHandler(t, PathMutate, testMutator(perNode).Admit)
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, PathMutate, tt.body)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.length != 0 {
				req.ContentLength = tt.length
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.code {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tt.code, rec.Body.String())
			}
			if !strings.Contains(rec.Body.String(), tt.message) {
				t.Errorf("body %q lacks %q", rec.Body.String(), tt.message)
			}
			if got := testutil.ToFloat64(met.errors.WithLabelValues(tt.reason)); got != 1 {
				t.Errorf("errors_total{reason=%s} = %v, want 1", tt.reason, got)
			}
		})
	}
}

func TestAdmitRequests(t *testing.T) {
	t.Parallel()
	compose := readCase(t, "compose-runtime")
	backend := readCase(t, "backend-deployment")
	noContainers := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[]}}`)
	tests := []struct {
		name     string
		labels   map[string]string
		mutate   func(*Mutator)
		req      func() *admissionv1.AdmissionRequest
		allowed  bool
		patched  bool
		code     int32
		message  []string // substrings of Result.Message
		warning  string
		result   string
		reason   string
		patterns string
		mode     string // admissions_total mode label when not enforce
	}{
		{name: "runtime pod mutated", labels: perNode, req: func() *admissionv1.AdmissionRequest { return podRequest(compose) },
			allowed: true, patched: true, result: ResultMutated, patterns: "per-node"},
		{name: "UPDATE allowed unchanged", labels: perNode, req: func() *admissionv1.AdmissionRequest {
			r := podRequest(compose)
			r.Operation, r.OldObject = admissionv1.Update, runtime.RawExtension{Raw: compose}
			return r
		}, allowed: true, result: ResultSkipped},
		{name: "DELETE allowed", labels: perNode, req: func() *admissionv1.AdmissionRequest {
			r := podRequest(nil)
			r.Operation = admissionv1.Delete
			return r
		}, allowed: true, result: ResultSkipped},
		{name: "non-pod kind allowed with a message", labels: perNode, req: func() *admissionv1.AdmissionRequest {
			r := podRequest([]byte(`{"apiVersion":"apps/v1","kind":"Deployment"}`))
			r.Kind = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
			return r
		}, allowed: true, message: []string{"hdscale mutates only pods", "Deployment"}, result: ResultSkipped, reason: ReasonWrongKind},
		{name: "pod subresource allowed", labels: perNode, req: func() *admissionv1.AdmissionRequest {
			r := podRequest(compose)
			r.SubResource = "ephemeralcontainers"
			return r
		}, allowed: true, message: []string{"subresource \"ephemeralcontainers\""}, result: ResultSkipped, reason: ReasonWrongKind},
		{name: "no containers denied", labels: perNode, req: func() *admissionv1.AdmissionRequest { return podRequest(noContainers) },
			code: http.StatusForbidden, message: []string{"the pod has no containers"}, result: ResultDenied, reason: ReasonNoContainers},
		{name: "unnamed container denied", labels: perNode, req: func() *admissionv1.AdmissionRequest {
			p := decodePod(t, compose)
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Image: "fluent/fluent-bit:3.1"})
			return podRequest(encodeJSON(t, p))
		}, code: http.StatusForbidden, message: []string{"spec.containers[1] has no name"}, result: ResultDenied, reason: ReasonContainerNames, patterns: "per-node"},
		{name: "repeated container name denied", labels: perNode, req: func() *admissionv1.AdmissionRequest {
			p := decodePod(t, compose)
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: p.Spec.Containers[0].Name, Image: "fluent/fluent-bit:3.1"})
			return podRequest(encodeJSON(t, p))
		}, code: http.StatusForbidden, message: []string{"spec.containers[0] and [1] are both named"}, result: ResultDenied, reason: ReasonContainerNames, patterns: "per-node"},
		{name: "unnamed container in audit mode: allowed with a warning", labels: map[string]string{policy.LabelPattern: "per-node", policy.LabelMode: "audit"},
			req: func() *admissionv1.AdmissionRequest {
				p := decodePod(t, compose)
				p.Spec.Containers[0].Name = ""
				return podRequest(encodeJSON(t, p))
			}, allowed: true, warning: "spec.containers[0] has no name", result: ResultSkipped, patterns: "per-node", mode: "audit"},
		{name: "no object", labels: perNode, req: func() *admissionv1.AdmissionRequest { return podRequest(nil) },
			code: http.StatusBadRequest, message: []string{"carries no pod"}, result: ResultErrored, reason: ReasonNoObject},
		{name: "object not a pod", labels: perNode, req: func() *admissionv1.AdmissionRequest { return podRequest([]byte(`{"spec":{"containers":"many"}}`)) },
			code: http.StatusBadRequest, message: []string{"decoding the pod"}, result: ResultErrored, reason: ReasonBadObject},
		{name: "a field repeated in the pod's JSON", labels: perNode, req: func() *admissionv1.AdmissionRequest {
			// Found by FuzzMutate: Go's decoder merges both "resources", a JSON
			// patch sees the last one only (see decodeObject).
			raw := bytes.Replace(compose, []byte(`"resources":`), []byte(`"resources":{"requests":{"cpu":"20m"}},"resources":`), 1)
			return podRequest(raw)
		}, code: http.StatusBadRequest, message: []string{"decoding the pod: duplicate field \"spec.containers[0].resources\""}, result: ResultErrored, reason: ReasonBadObject},
		{name: "a quantity the parser would spend minutes on, in a field the webhook does not read", labels: perNode, req: func() *admissionv1.AdmissionRequest {
			// Found by FuzzDecodeArgs in the extender's decoder; the same parser
			// decodes pods here (see quantityguard).
			raw := bytes.Replace(compose, []byte(`"containers":`), []byte(`"overhead":{"cpu":"1666666661666666666666666661E61666666"},"containers":`), 1)
			return podRequest(raw)
		}, code: http.StatusBadRequest, message: []string{`decoding the pod: spec.overhead.cpu: quantity "1666666661666666666666666661E61666666" has a decimal exponent of 61666666 (at most ±100 is accepted)`}, result: ResultErrored, reason: ReasonBadObject},
		{name: "bad namespace labels deny a runtime pod", labels: map[string]string{policy.LabelPattern: "per-pod", policy.LabelMode: "loud"},
			req:  func() *admissionv1.AdmissionRequest { return podRequest(compose) },
			code: http.StatusForbidden, message: []string{"hdscale.io/pattern=\"per-pod\" must be one of per-node, per-node-single, per-core", "hdscale.io/mode=\"loud\" must be one of enforce, audit"},
			result: ResultDenied, reason: ReasonBadLabels},
		{name: "bad namespace labels warn on other pods", labels: map[string]string{policy.LabelPattern: "per-node", policy.LabelCPU: "lots"},
			req:     func() *admissionv1.AdmissionRequest { return podRequest(backend) },
			allowed: true, warning: "invalid hdscale labels: namespace label hdscale.io/cpu=\"lots\"", result: ResultSkipped},
		{name: "namespace not opted in", labels: map[string]string{"team": "a"}, req: func() *admissionv1.AdmissionRequest { return podRequest(compose) },
			allowed: true, result: ResultSkipped},
		{name: "unknown namespace", labels: perNode, req: func() *admissionv1.AdmissionRequest {
			r := podRequest(compose)
			r.Namespace = "elsewhere"
			return r
		}, code: http.StatusServiceUnavailable, message: []string{`namespace "elsewhere" is not in the webhook's cache yet`}, result: ResultErrored, reason: ReasonUnknownNamespace},
		{name: "not ready", labels: perNode, mutate: func(m *Mutator) { m.Ready = func() error { return errBadReview } },
			req:  func() *admissionv1.AdmissionRequest { return podRequest(compose) },
			code: http.StatusServiceUnavailable, message: []string{"not ready"}, result: ResultErrored, reason: ReasonNotReady},
		{name: "not ready: a pod that is no runtime pod is allowed anyway", labels: perNode, mutate: func(m *Mutator) { m.Ready = func() error { return errBadReview } },
			req: func() *admissionv1.AdmissionRequest { return podRequest(backend) }, allowed: true, result: ResultSkipped},
		{name: "unknown namespace: a pod that is no runtime pod is allowed anyway", labels: perNode, req: func() *admissionv1.AdmissionRequest {
			r := podRequest(backend)
			r.Namespace = "elsewhere"
			return r
		}, allowed: true, result: ResultSkipped},
		{name: "own namespace skipped", labels: perNode, mutate: func(m *Mutator) { m.SkipNamespace = testNamespace },
			req: func() *admissionv1.AdmissionRequest { return podRequest(compose) }, allowed: true, result: ResultSkipped},
		{name: "mirror pod skipped", labels: perNode, req: func() *admissionv1.AdmissionRequest {
			p := decodePod(t, compose)
			p.Annotations = map[string]string{mirrorPodAnnotation: "x"}
			return podRequest(encodeJSON(t, p))
		}, allowed: true, result: ResultSkipped},
		{name: "already mutated: unchanged", labels: perNode, req: func() *admissionv1.AdmissionRequest {
			resp, _ := testMutator(perNode).Admit(podRequest(compose))
			return podRequest(applyPatch(t, compose, resp.Patch))
		}, allowed: true, result: ResultUnchanged, patterns: "per-node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := testMutator(tt.labels)
			if tt.mutate != nil {
				tt.mutate(m)
			}
			h, met := testHandler(t, PathMutate, m.Admit)
			req := tt.req()
			rec := post(h, reviewBody(t, req), "application/json")
			if rec.Code != http.StatusOK {
				t.Fatalf("HTTP %d: %s", rec.Code, rec.Body.String())
			}
			var review admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil {
				t.Fatal(err)
			}
			resp := review.Response
			if resp.UID != req.UID || resp.Allowed != tt.allowed || (len(resp.Patch) > 0) != tt.patched {
				t.Fatalf("response uid=%s allowed=%v patch=%s, want allowed=%v patched=%v (%+v)", resp.UID, resp.Allowed, resp.Patch, tt.allowed, tt.patched, resp.Result)
			}
			if tt.patched && (resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch) {
				t.Errorf("patch type %v", resp.PatchType)
			}
			if tt.code != 0 && (resp.Result == nil || resp.Result.Code != tt.code) {
				t.Errorf("result %+v, want code %d", resp.Result, tt.code)
			}
			for _, msg := range tt.message {
				if resp.Result == nil || !strings.Contains(resp.Result.Message, msg) {
					t.Errorf("result %+v lacks %q", resp.Result, msg)
				}
			}
			if tt.warning != "" && !containsSubstring(resp.Warnings, tt.warning) {
				t.Errorf("warnings %q lack %q", resp.Warnings, tt.warning)
			}
			pattern := tt.patterns
			if pattern == "" {
				pattern = LabelNone
			}
			mode := LabelNone
			if pattern != LabelNone {
				mode = "enforce"
			}
			if tt.mode != "" {
				mode = tt.mode
			}
			if got := testutil.ToFloat64(met.admissions.WithLabelValues(tt.result, pattern, mode)); got != 1 {
				t.Errorf("admissions_total{%s,%s,%s} = %v, want 1", tt.result, pattern, mode, got)
			}
			if tt.reason != "" {
				if got := testutil.ToFloat64(met.errors.WithLabelValues(tt.reason)); got != 1 {
					t.Errorf("errors_total{%s} = %v", tt.reason, got)
				}
			}
		})
	}
}

func TestAdmitDryRunBehavesIdentically(t *testing.T) {
	t.Parallel()
	for _, name := range caseNames(t) {
		raw := readCase(t, name)
		m := testMutator(map[string]string{policy.LabelPattern: "per-node", policy.LabelConflict: "enforce"})
		normal := admitHTTP(t, m.Admit, podRequest(raw))
		req := podRequest(raw)
		req.DryRun = ptr(true)
		dry := admitHTTP(t, m.Admit, req)
		if !bytes.Equal(encodeJSON(t, withSortedPatch(t, normal)), encodeJSON(t, withSortedPatch(t, dry))) {
			t.Errorf("%s: dryRun response differs:\n%+v\n%+v", name, normal, dry)
		}
	}
}

// withSortedPatch replaces the patch by its operations sorted, as the
// diff's map iteration order varies.
func withSortedPatch(t *testing.T, r *admissionv1.AdmissionResponse) *admissionv1.AdmissionResponse {
	t.Helper()
	c := r.DeepCopy()
	if len(c.Patch) > 0 {
		var ops []map[string]any
		if err := json.Unmarshal(c.Patch, &ops); err != nil {
			t.Fatal(err)
		}
		c.Patch = encodeJSON(t, sortedOps(ops))
	}
	return c
}

func sortedOps(ops []map[string]any) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		b, _ := json.Marshal(op)
		out[i] = string(b)
	}
	sort.Strings(out)
	return out
}

func TestAdmitPreservesFieldsUnknownToThisAPIVersion(t *testing.T) {
	t.Parallel()
	raw := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"rt","futureMeta":{"a":1}},
	"spec":{"futureSpec":[1,2],"containers":[{"name":"r","image":"hetida/designer-runtime","futureContainer":"x","resources":{"requests":{"memory":"1Gi"},"futureResources":true}}]},
	"status":{"futureStatus":"y"}}`)
	resp, _ := testMutator(perNode).Admit(podRequest(raw))
	if !resp.Allowed || len(resp.Patch) == 0 {
		t.Fatalf("not mutated: %+v", resp)
	}
	out := applyPatch(t, raw, resp.Patch)
	for _, f := range []string{`"futureMeta":{"a":1}`, `"futureSpec":[1,2]`, `"futureContainer":"x"`, `"futureResources":true`, `"futureStatus":"y"`} {
		if !bytes.Contains(out, []byte(f)) {
			t.Errorf("the patch dropped %s: %s", f, out)
		}
	}
	if strings.Contains(string(resp.Patch), `"remove"`) {
		t.Errorf("patch removes something: %s", resp.Patch)
	}
}

func TestWarningsAreCapped(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("very-long-container-name", 3)[:63]
	p := runtimePod()
	p.Spec.Containers[0].Name = long
	p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, env(EnvWebConcurrency, strings.Repeat("9", 200)+"\n\x00é"))
	resp := admitHTTP(t, testMutator(perNode).Admit, podRequest(encodeJSON(t, p)))
	if len(resp.Warnings) == 0 {
		t.Fatal("no warnings")
	}
	for _, w := range resp.Warnings {
		if len(w) > MaxWarningLength || strings.ContainsAny(w, "\n\x00") {
			t.Errorf("warning %q (%d bytes) not capped/cleaned", w, len(w))
		}
	}
	if got := capWarning(strings.Repeat("é", 100)); len(got) > MaxWarningLength || !strings.HasSuffix(got, "...") {
		t.Errorf("multibyte warning capped to %q (%d bytes)", got, len(got))
	}
	if got := capWarning("short"); got != "short" {
		t.Errorf("short warning changed to %q", got)
	}
}

type panickingNamespaces struct{}

func (panickingNamespaces) Get(string) (*corev1.Namespace, error) { panic("boom") }

func TestPanicsAreRecoveredAndCounted(t *testing.T) {
	t.Parallel()
	met, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{}
	opts.Default()
	m := testMutator(perNode)
	m.Namespaces = panickingNamespaces{}
	mux := NewMux(opts, m, nil, &NamespaceValidator{}, met, logr.Discard())
	body := reviewBody(t, podRequest(readCase(t, "compose-runtime")))
	for range 2 {
		rec := post(mux, body, "application/json")
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("status %d, want 500", rec.Code)
		}
	}
	if got := testutil.ToFloat64(met.panics); got != 2 {
		t.Fatalf("panics_total = %v, want 2", got)
	}
	// The server keeps answering.
	rec := post(mux, reviewBody(t, podRequest(readCase(t, "compose-runtime"))), "application/json")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestMuxRoutes(t *testing.T) {
	t.Parallel()
	met, _ := NewMetrics(nil)
	opts := Options{}
	opts.Default()
	mux := NewMux(opts, testMutator(perNode), nil, &NamespaceValidator{}, met, logr.Discard())
	nsReq := &admissionv1.AdmissionRequest{UID: "u", Kind: namespaceGVK, Operation: admissionv1.Create, Name: "hetida",
		Object: runtime.RawExtension{Raw: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"hetida","labels":{"hdscale.io/pattern":"per-pod"}}}`)}}
	req := httptest.NewRequest(http.MethodPost, PathValidateNamespace, bytes.NewReader(reviewBody(t, nsReq)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"allowed":false`) {
		t.Fatalf("validate-namespace: %d %s", rec.Code, rec.Body.String())
	}
	if got := testutil.ToFloat64(met.nsValidations.WithLabelValues(ResultDenied)); got != 1 {
		t.Errorf("namespace_validations_total{denied} = %v", got)
	}
	rec = post(mux, reviewBody(t, podRequest(readCase(t, "compose-runtime"))), "application/json")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"patchType":"JSONPatch"`) {
		t.Fatalf("mutate: %d %s", rec.Code, rec.Body.String())
	}
}
