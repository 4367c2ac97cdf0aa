package webhook

import (
	"bytes"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// discard is a minimal http.ResponseWriter, so the benchmark measures the
// handler and not a recorder.
type discard struct {
	h    http.Header
	code int
	n    int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.code = code }
func (d *discard) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }

// apiServerJSON re-encodes a case's pod the way the API server serializes
// it in an AdmissionReview (encoding/json of the typed object).
func apiServerJSON(b *testing.B, name string) []byte {
	return encodeJSON(b, decodePod(b, readCase(b, name)))
}

// BenchmarkAdmit measures one admission end to end in process: an
// AdmissionReview JSON body as the API server sends it (the Helm runtime pod
// with sidecars, init containers and conflicts) through the /mutate handler
// to the encoded response. "yaml-raw" uses the object as converted from the
// YAML file instead, whose key order and missing empty structs make the
// round-trip diff do real work.
func BenchmarkAdmit(b *testing.B) {
	enforce := map[string]string{policy.LabelPattern: "per-node", policy.LabelConflict: "enforce"}
	cases := []struct {
		name   string
		labels map[string]string
		raw    func(b *testing.B) []byte
	}{
		{"mutate", enforce, func(b *testing.B) []byte { return apiServerJSON(b, "helm-runtime-deployment") }},
		{"mutate-yaml-raw", enforce, func(b *testing.B) []byte { return readCase(b, "helm-runtime-deployment") }},
		{"reinvocation", enforce, func(b *testing.B) []byte {
			raw := apiServerJSON(b, "helm-runtime-deployment")
			resp, _ := testMutator(enforce).Admit(podRequest(raw))
			return applyPatch(b, raw, resp.Patch)
		}},
		{"audit", map[string]string{policy.LabelPattern: "per-node", policy.LabelMode: "audit"}, func(b *testing.B) []byte { return apiServerJSON(b, "helm-runtime-deployment") }},
		{"not-runtime", enforce, func(b *testing.B) []byte { return apiServerJSON(b, "backend-deployment") }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			h, _ := testHandler(b, PathMutate, testMutator(c.labels).Admit)
			body := reviewBody(b, podRequest(c.raw(b)))
			req, err := http.NewRequest(http.MethodPost, PathMutate, nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				req.Body, req.ContentLength = readCloser{bytes.NewReader(body)}, int64(len(body))
				w.code = 0
				h.ServeHTTP(w, req)
			}
			if w.code != 0 && w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		})
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// BenchmarkPlan and BenchmarkCreatePatch split the mutate cost.
func BenchmarkPlan(b *testing.B) {
	raw := readCase(b, "helm-runtime-deployment")
	pod := decodePod(b, raw)
	ns, _, _ := policy.Parse(map[string]string{policy.LabelPattern: "per-node", policy.LabelConflict: "enforce"})
	in := PlanInput{Pod: pod, Runtime: NewMatcher(DefaultConfig()).Match(pod).Containers, Policy: ns, Pool: testPool, SchedulerName: DefaultSchedulerName}
	b.ReportAllocs()
	for b.Loop() {
		Plan(in)
	}
}

func BenchmarkCreatePatch(b *testing.B) {
	raw := apiServerJSON(b, "helm-runtime-deployment")
	pod := decodePod(b, raw)
	ns, _, _ := policy.Parse(map[string]string{policy.LabelPattern: "per-node", policy.LabelConflict: "enforce"})
	d := Plan(PlanInput{Pod: pod, Runtime: NewMatcher(DefaultConfig()).Match(pod).Containers, Policy: ns, Pool: testPool, SchedulerName: DefaultSchedulerName})
	// view: the fast path every decision of this case takes; full: the
	// general path (whole-pod diffs), for the ratio between the two.
	for _, c := range []struct {
		name string
		f    func([]byte, *corev1.Pod, *corev1.Pod) ([]byte, error)
	}{{"view", createPatch}, {"full", createPatchFull}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.f(raw, pod, d.Pod); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
