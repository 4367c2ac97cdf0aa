package webhook

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
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

// serverSidePod is the Helm runtime pod as kube-apiserver hands it to
// mutating webhooks on CREATE: defaulted, with a managedFields entry, the
// service account token volume and mounts and the default tolerations
// (testdata/bench/helm-runtime-server-side.json, written once by
// e2e/bench/webhookload/benchpod.ServerSidePod from the
// helm-runtime-deployment case; the e2e webhook load benchmark's pod).
func serverSidePod(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "bench", "helm-runtime-server-side.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// BenchmarkAdmit measures one admission end to end in process: an
// AdmissionReview JSON body as the API server sends it (the Helm runtime pod
// with sidecars, init containers and conflicts) through the /mutate handler
// to the encoded response. "yaml-raw" uses the object as converted from the
// YAML file instead, whose key order and missing empty structs make the
// round-trip diff do real work; "server-side" the same pod with everything
// the API server adds before webhooks run (serverSidePod).
func BenchmarkAdmit(b *testing.B) {
	enforce := map[string]string{policy.LabelPattern: "per-node", policy.LabelConflict: "enforce"}
	cases := []struct {
		name   string
		labels map[string]string
		raw    func(b *testing.B) []byte
	}{
		{"mutate", enforce, func(b *testing.B) []byte { return apiServerJSON(b, "helm-runtime-deployment") }},
		{"mutate-server-side", enforce, func(b *testing.B) []byte { return serverSidePod(b) }},
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

// BenchmarkDecodePod, BenchmarkPlan and BenchmarkCreatePatch split the
// mutate cost.
//
// BenchmarkDecodePod decodes the pod of BenchmarkAdmit/mutate (and of
// mutate-server-side): "slim" as Admit does (podwire.go), "full" into a whole
// corev1.Pod as Admit did before, for the ratio.
func BenchmarkDecodePod(b *testing.B) {
	for _, p := range []struct {
		suffix string
		raw    []byte
	}{{"", apiServerJSON(b, "helm-runtime-deployment")}, {"-server-side", serverSidePod(b)}} {
		for _, d := range []struct {
			name   string
			decode func([]byte) error
		}{
			{"full", func(raw []byte) error { _, err := decodeFullPod(raw); return err }},
			{"slim", func(raw []byte) error { _, err := decodeRequestPod(raw); return err }},
		} {
			b.Run(d.name+p.suffix, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(p.raw)))
				for b.Loop() {
					if err := d.decode(p.raw); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// planInput is the input Admit plans for BenchmarkAdmit/mutate's pod.
func planInput(pod *corev1.Pod) PlanInput {
	ns, _, _ := policy.Parse(map[string]string{policy.LabelPattern: "per-node", policy.LabelConflict: "enforce"})
	return PlanInput{Pod: pod, Runtime: NewMatcher(DefaultConfig()).Match(pod).Containers, Policy: ns, Pool: testPool, SchedulerName: DefaultSchedulerName}
}

// BenchmarkPlan plans on the slim pod, as Admit does.
func BenchmarkPlan(b *testing.B) {
	rp, err := decodeRequestPod(apiServerJSON(b, "helm-runtime-deployment"))
	if err != nil {
		b.Fatal(err)
	}
	in := planInput(rp.pod)
	b.ReportAllocs()
	for b.Loop() {
		Plan(in)
	}
}

// BenchmarkCreatePatch: "view" is the fast path every decision of this case
// takes (on the slim pod, as Admit runs it); "full" the general path
// (whole-pod diffs, given the whole pods), for the ratio between the two;
// "fallback" the general path as Admit reaches it, decoding the whole pod
// and planning again first.
func BenchmarkCreatePatch(b *testing.B) {
	raw := apiServerJSON(b, "helm-runtime-deployment")
	rp, err := decodeRequestPod(raw)
	if err != nil {
		b.Fatal(err)
	}
	in := planInput(rp.pod)
	d := Plan(in)
	full := decodePod(b, raw)
	fullIn := in
	fullIn.Pod = full
	fullMutated := Plan(fullIn).Pod
	noMeta := *rp
	noMeta.hasMetadata = false // forces the general path
	for _, c := range []struct {
		name string
		f    func() ([]byte, error)
	}{
		{"view", func() ([]byte, error) { return createPatch(rp, in, d.Pod) }},
		{"full", func() ([]byte, error) { return createPatchFull(raw, full, fullMutated) }},
		{"fallback", func() ([]byte, error) { return createPatch(&noMeta, in, d.Pod) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
