package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/yaml"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
	"github.com/hdscale/hdscale/internal/pool/pooltest"
)

// testNamespace is where every test pod lives.
const testNamespace = "hetida"

// testPool: three 4-CPU nodes, DaemonSets reserving 250m on each.
var testPool = pool.Uniform(policy.DefaultPool, 3, pool.Shape{CPUMilli: 4000, MemBytes: 16 << 30}, 250)

// mixedPool: three 8-CPU and two 4-CPU usable nodes, one cordoned node,
// DaemonSets reserving 100m: the reference shape is 8 CPU.
var mixedPool = func() *pool.Pool {
	node := func(name string, cpu int64, unusable string) pool.Node {
		return pool.Node{Name: name, Pool: "mixed", Shape: pool.Shape{CPUMilli: cpu, MemBytes: 32 << 30}, Unusable: unusable}
	}
	p := pool.Summarize([]pool.Node{node("m8-a", 8000, ""), node("m8-b", 8000, ""), node("m8-c", 8000, ""),
		node("m4-a", 4000, ""), node("m4-b", 4000, ""), node("m8-d", 8000, pool.UnusableCordoned)}, pool.DefaultShapeTolerance)["mixed"]
	p.ReservedCPUMilli = 100
	return p
}()

// cordonedPool: two labelled 4-CPU nodes, both cordoned (maintenance).
var cordonedPool = pool.Summarize([]pool.Node{
	{Name: "c-a", Pool: "cordoned", Shape: pool.Shape{CPUMilli: 4000, MemBytes: 16 << 30}, Unusable: pool.UnusableCordoned},
	{Name: "c-b", Pool: "cordoned", Shape: pool.Shape{CPUMilli: 4000, MemBytes: 16 << 30}, Unusable: pool.UnusableCordoned},
}, pool.DefaultShapeTolerance)["cordoned"]

// Cluster fixtures of internal/pool/pooltest.
var (
	poolNode    = pooltest.Node
	daemonSet   = pooltest.DaemonSet
	tolerateAll = pooltest.TolerateAll
	cordoned    = pooltest.Cordoned
	notReady    = pooltest.NotReady
	withLabel   = pooltest.WithLabel
)

// readCase reads testdata/cases/<name>.yaml and returns the pod to admit as
// raw JSON: a Pod as written, or the pod a Deployment's ReplicaSet creates.
func readCase(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "cases", name+".yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	return caseToPodJSON(tb, data)
}

func caseToPodJSON(tb testing.TB, data []byte) []byte {
	tb.Helper()
	raw, err := yaml.YAMLToJSON(data)
	if err != nil {
		tb.Fatal(err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(raw, &tm); err != nil {
		tb.Fatal(err)
	}
	switch tm.Kind {
	case "Pod":
		return raw
	case "Deployment":
		var d appsv1.Deployment
		if err := json.Unmarshal(raw, &d); err != nil {
			tb.Fatal(err)
		}
		t := d.Spec.Template
		pod := corev1.Pod{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{
				GenerateName: d.Name + "-7d9f8b6c5-",
				Namespace:    d.Namespace,
				Labels:       map[string]string{"pod-template-hash": "7d9f8b6c5"},
				Annotations:  t.Annotations,
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "apps/v1", Kind: "ReplicaSet", Name: d.Name + "-7d9f8b6c5",
					UID: types.UID("9a1b7c3e-0000-4000-8000-" + "00000000a11d"), Controller: ptr(true), BlockOwnerDeletion: ptr(true),
				}},
			},
			Spec: t.Spec,
		}
		for k, v := range t.Labels {
			pod.Labels[k] = v
		}
		out, err := json.Marshal(&pod)
		if err != nil {
			tb.Fatal(err)
		}
		return out
	default:
		tb.Fatalf("case kind %q: want Pod or Deployment", tm.Kind)
		return nil
	}
}

func ptr[T any](v T) *T { return &v }

func decodePod(tb testing.TB, raw []byte) *corev1.Pod {
	tb.Helper()
	var p corev1.Pod
	if err := json.Unmarshal(raw, &p); err != nil {
		tb.Fatal(err)
	}
	return &p
}

func encodeJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// podRequest builds a pod CREATE admission request for raw.
func podRequest(raw []byte) *admissionv1.AdmissionRequest {
	return &admissionv1.AdmissionRequest{
		UID:       "4a6ef1c2-6a61-4e52-9fd4-6e64a4d3d3a1",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: testNamespace,
		Operation: admissionv1.Create,
		Object:    runtime.RawExtension{Raw: raw},
	}
}

// reviewBody wraps req into an AdmissionReview request body.
func reviewBody(tb testing.TB, req *admissionv1.AdmissionRequest) []byte {
	tb.Helper()
	return encodeJSON(tb, &admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  req,
	})
}

// testMutator admits pods in testNamespace labelled nsLabels, pool testPool.
func testMutator(nsLabels map[string]string) *Mutator {
	return &Mutator{
		Matcher:       NewMatcher(DefaultConfig()),
		Namespaces:    StaticNamespaces{testNamespace: nsLabels},
		Pools:         StaticPools{policy.DefaultPool: testPool},
		SchedulerName: DefaultSchedulerName,
	}
}

// testHandler serves admit with fresh, unregistered metrics.
func testHandler(tb testing.TB, path string, admit AdmitFunc) (*Handler, *Metrics) {
	tb.Helper()
	met, err := NewMetrics(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &Handler{Path: path, Admit: admit, Metrics: met, Log: logr.Discard(), MaxBytes: DefaultMaxRequestBytes,
		Clock: clocktesting.NewFakePassiveClock(time.Unix(0, 0))}, met
}

// post sends body to h and returns the recorder.
func post(h http.Handler, body []byte, contentType string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, PathMutate, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// admitHTTP runs req through a handler for admit and returns the response.
func admitHTTP(tb testing.TB, admit AdmitFunc, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	tb.Helper()
	h, _ := testHandler(tb, PathMutate, admit)
	rec := post(h, reviewBody(tb, req), "application/json")
	if rec.Code != http.StatusOK {
		tb.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil {
		tb.Fatalf("decoding the response review: %v", err)
	}
	if review.Response == nil || review.Response.UID != req.UID {
		tb.Fatalf("response %+v does not answer uid %s", review.Response, req.UID)
	}
	if review.APIVersion != "admission.k8s.io/v1" || review.Kind != "AdmissionReview" {
		tb.Fatalf("response review is %s %s", review.APIVersion, review.Kind)
	}
	return review.Response
}

// applyPatch applies a JSON patch (nil: none) to doc.
func applyPatch(tb testing.TB, doc, patch []byte) []byte {
	tb.Helper()
	if len(patch) == 0 {
		return doc
	}
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		tb.Fatalf("decoding patch %s: %v", patch, err)
	}
	out, err := p.Apply(doc)
	if err != nil {
		tb.Fatalf("applying patch %s: %v", patch, err)
	}
	return out
}

// jsonEqual compares two JSON documents semantically.
func jsonEqual(tb testing.TB, a, b []byte) bool {
	tb.Helper()
	return jsonpatch.Equal(a, b)
}

func resourceQuantity(s string) *resource.Quantity { q := resource.MustParse(s); return &q }
