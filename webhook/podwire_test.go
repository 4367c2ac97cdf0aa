package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	sigsjson "sigs.k8s.io/json"

	"github.com/hdscale/hdscale/internal/policy"
)

// projectPod keeps of p what wirePod decodes: a slim decode equals the
// projection of the whole decode of the same bytes.
func projectPod(p *corev1.Pod) *corev1.Pod {
	out := &corev1.Pod{}
	out.Name, out.GenerateName, out.Namespace, out.Labels, out.Annotations = p.Name, p.GenerateName, p.Namespace, p.Labels, p.Annotations
	out.Spec.NodeSelector, out.Spec.SchedulerName, out.Spec.Tolerations = p.Spec.NodeSelector, p.Spec.SchedulerName, p.Spec.Tolerations
	if p.Spec.Containers != nil {
		out.Spec.Containers = make([]corev1.Container, len(p.Spec.Containers))
		for i, c := range p.Spec.Containers {
			out.Spec.Containers[i] = corev1.Container{Name: c.Name, Image: c.Image, Env: c.Env, Resources: c.Resources}
		}
	}
	if p.Spec.InitContainers != nil {
		out.Spec.InitContainers = make([]corev1.Container, len(p.Spec.InitContainers))
		for i, c := range p.Spec.InitContainers {
			out.Spec.InitContainers[i] = corev1.Container{Name: c.Name, Resources: c.Resources, RestartPolicy: c.RestartPolicy}
		}
	}
	out.Spec.Overhead, out.Spec.Resources = p.Spec.Overhead, p.Spec.Resources
	return out
}

// podSeeds are pod objects for FuzzDecodePod: every testdata case (as
// written and as the API server serializes it) and the corners of the slim
// decode: metadata zero or not, null versus empty, repeated keys (which
// merge), values of the wrong type in read and in unread fields.
func podSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, name := range caseNames(tb) {
		raw := readCase(tb, name)
		seeds = append(seeds, raw, encodeJSON(tb, decodePod(tb, raw)))
	}
	seeds = append(seeds, serverSidePod(tb))
	for _, s := range []string{
		`{}`, `null`, `[]`, `"pod"`, `{`, `{"metadata":null}`, `{"metadata":{}}`, `{"metadata":{"uid":"x"}}`, `{"metadata":{"uid":""}}`,
		`{"metadata":{"generation":0}}`, `{"metadata":{"generation":-0}}`, `{"metadata":{"generation":3}}`, `{"metadata":{"generation":1.5}}`,
		`{"metadata":{"creationTimestamp":null}}`, `{"metadata":{"creationTimestamp":"2024-01-01T00:00:00Z"}}`, `{"metadata":{"creationTimestamp":"0001-01-01T00:00:00Z"}}`,
		`{"metadata":{"deletionTimestamp":null,"deletionGracePeriodSeconds":0}}`, `{"metadata":{"selfLink":"/x","resourceVersion":"1"}}`,
		`{"metadata":{"ownerReferences":[]}}`, `{"metadata":{"ownerReferences":null}}`, `{"metadata":{"finalizers":["a"],"finalizers":null}}`,
		`{"metadata":{"uid":"x","uid":null}}`, `{"metadata":{"labels":{}}}`, `{"metadata":{"annotations":null}}`,
		`{"metadata":{"managedFields":[{"manager":"kube-controller-manager","operation":"Update","fieldsV1":{"f:spec":{"f:containers":{}}}}]}}`,
		`{"metadata":{"labels":{"a":"b"}},"metadata":{"labels":{"c":"d"},"namespace":"n"}}`, `{"Metadata":{"name":"x"},"metadata":{"Name":"y"}}`,
		`{"metadata":{"name":5}}`, `{"metadata":"x"}`, `{"metadata":{"ownerReferences":"x"}}`, `{"metadata":{"creationTimestamp":"yesterday"}}`,
		`{"spec":null}`, `{"spec":{"containers":null}}`, `{"spec":{"containers":[]}}`, `{"spec":{"containers":[null,{}]}}`, `{"spec":{"containers":"x"}}`,
		`{"spec":{"containers":[{"name":"a","env":[{"name":"X","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},null]}]}}`,
		`{"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":"x"}}}]}}`, `{"spec":{"containers":[{"name":"a","resources":{"claims":[{"name":"c"}]}}]}}`,
		`{"spec":{"containers":[{"name":"a","image":"i"}],"containers":[{"env":[]}]}}`, `{"spec":{"tolerations":[{"key":"k","tolerationSeconds":"x"}]}}`,
		`{"spec":{"tolerations":[null],"nodeSelector":{},"schedulerName":null}}`, `{"spec":{"volumes":"x","containers":[{"name":"a"}]},"metadata":{"name":"p"}}`,
		`{"spec":{"containers":[{"name":"a","ports":"x","livenessProbe":{"httpGet":{"port":"http"}}}],"initContainers":[{"name":"i","env":5}]}}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// checkSlimDecode compares decodeRequestPod with the whole decode of raw.
func checkSlimDecode(t *testing.T, raw []byte) {
	t.Helper()
	full, ferr := decodeFullPod(raw)
	rp, err := decodeRequestPod(raw)
	switch {
	case err != nil:
		if ferr == nil || err.Error() != ferr.Error() {
			t.Fatalf("slim decode error %q, whole decode error %v", err, ferr)
		}
	case ferr != nil:
		// An unread field of the wrong type: not checked by the slim decode
		// (see podwire.go). Never a syntax error, which both report.
		if syntax, _ := sigsjson.SyntaxErrorOffset(ferr); syntax {
			t.Fatalf("slim decode accepts what the whole decode rejects as a syntax error: %v", ferr)
		}
	default:
		if rp.full {
			t.Fatalf("slim decode failed where the whole decode did not")
		}
		if want := projectPod(full); !reflect.DeepEqual(rp.pod, want) {
			t.Fatalf("slim pod\n%s\nwant (whole pod projected)\n%s", encodeJSON(t, rp.pod), encodeJSON(t, want))
		}
		if want := !reflect.ValueOf(full.ObjectMeta).IsZero(); rp.hasMetadata != want {
			t.Fatalf("hasMetadata = %v, whole ObjectMeta %+v", rp.hasMetadata, full.ObjectMeta)
		}
	}
}

func TestDecodeRequestPod(t *testing.T) {
	t.Parallel()
	for _, raw := range podSeeds(t) {
		checkSlimDecode(t, raw)
	}
	// A repeated field is refused by both decodes, naming it (see
	// decodeObject): Go's decoder would merge the two values while a JSON
	// patch sees only the last one.
	for raw, field := range map[string]string{
		`{"metadata":{"uid":"x","uid":null}}`:                                                                   "metadata.uid",
		`{"metadata":{"finalizers":["a"],"finalizers":null}}`:                                                   "metadata.finalizers",
		`{"metadata":{"annotations":{"a":"1","a":"2"}}}`:                                                        "metadata.annotations.a",
		`{"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":"2"}},"resources":{"requests":{}}}]}}`: "spec.containers[0].resources",
		`{"spec":{"nodeSelector":{}},"spec":{}}`:                                                                "spec",
	} {
		want := fmt.Sprintf("duplicate field %q", field)
		for name, decode := range map[string]func([]byte) error{
			"slim":  func(b []byte) error { _, err := decodeRequestPod(b); return err },
			"whole": func(b []byte) error { _, err := decodeFullPod(b); return err },
		} {
			if err := decode([]byte(raw)); err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%s decode of %s: error %v, want one starting %q", name, raw, err, want)
			}
		}
	}
	// A field repeated among those the slim decode skips is left to the API
	// server (see podwire.go); the whole decode refuses it.
	if _, err := decodeRequestPod([]byte(`{"spec":{"volumes":[],"volumes":[]}}`)); err != nil {
		t.Errorf("slim decode refused a repeated unread field: %v", err)
	}
}

// FuzzDecodePod checks the slim decode against the whole one (see podwire.go).
func FuzzDecodePod(f *testing.F) {
	for _, s := range podSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(checkSlimDecode)
}

// sameAdmission fails unless the slim and whole-decoding mutators answered
// alike (patches compared as sorted operations: their order varies).
func sameAdmission(t *testing.T, slim, whole *admissionv1.AdmissionResponse, slimOut, wholeOut Outcome) {
	t.Helper()
	if slimOut != wholeOut {
		t.Fatalf("outcome %+v, whole decode %+v", slimOut, wholeOut)
	}
	if a, b := encodeJSON(t, withSortedPatch(t, slim)), encodeJSON(t, withSortedPatch(t, whole)); !bytes.Equal(a, b) {
		t.Fatalf("response\n%s\nwhole decode\n%s", a, b)
	}
}

// admitBoth admits raw in a namespace labelled labels with the slim decode
// and with the whole decode.
func admitBoth(t *testing.T, labels map[string]string, raw []byte) (slim, whole *admissionv1.AdmissionResponse, slimOut, wholeOut Outcome) {
	t.Helper()
	w := testMutator(labels)
	w.wholePods = true
	slim, slimOut = testMutator(labels).Admit(podRequest(raw))
	whole, wholeOut = w.Admit(podRequest(raw))
	return slim, whole, slimOut, wholeOut
}

// TestAdmitSlimMatchesWhole admits every case (as written, as the API
// server serializes it, and the server-side bench pod) under every golden
// variant with the slim and the whole pod decode: the answers are the same.
func TestAdmitSlimMatchesWhole(t *testing.T) {
	t.Parallel()
	raws := [][]byte{serverSidePod(t)}
	for _, name := range caseNames(t) {
		raws = append(raws, readCase(t, name), encodeJSON(t, decodePod(t, readCase(t, name))))
	}
	for _, raw := range raws {
		for _, v := range goldenVariants() {
			slim, whole, slimOut, wholeOut := admitBoth(t, v.labels, raw)
			sameAdmission(t, slim, whole, slimOut, wholeOut)
		}
	}
}

// TestAdmitGeneralPatchPath: pods the view patch cannot serve (no metadata)
// take the general path (a container without a name, which the view patch
// cannot serve either, is denied before: TestAdmitRequests), which decodes the whole
// pod and plans again; the patch applies to the pod as sent, re-admitting
// the result changes nothing, and the answer is the whole decode's.
func TestAdmitGeneralPatchPath(t *testing.T) {
	t.Parallel()
	enforce := map[string]string{policy.LabelPattern: "per-node", policy.LabelConflict: "enforce"}
	audit := map[string]string{policy.LabelPattern: "per-node", policy.LabelMode: "audit"}
	runtime := `"containers":[{"name":"rt","image":"hetida/designer-runtime","env":[{"name":"WEB_CONCURRENCY","value":"9"}],"resources":{"limits":{"cpu":"1"}}}]`
	for _, tt := range []struct {
		name, raw string
		labels    map[string]string
	}{
		{"no metadata", `{"spec":{` + runtime + `,"volumes":[{"name":"v","emptyDir":{}}]},"status":{}}`, enforce},
		{"metadata null", `{"metadata":null,"spec":{` + runtime + `}}`, enforce},
		{"metadata empty", `{"metadata":{},"spec":{` + runtime + `}}`, audit},
		{"fuzz seed", `{"Spec":{},"spec":{"containers":[{"name":"a~/b","image":"localhost:5000/hetida/designer-runtime:1@sha256:00"},{"name":"b"}]},"x/y~z":[1],"status":null}`, enforce},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := []byte(tt.raw)
			rp, err := decodeRequestPod(raw)
			if err != nil {
				t.Fatal(err)
			}
			m := testMutator(tt.labels)
			match := m.Matcher.Match(rp.pod)
			pol, _, _ := policy.Parse(tt.labels)
			in := PlanInput{Pod: rp.pod, Runtime: match.Containers, Policy: pol, Pool: testPool, SchedulerName: DefaultSchedulerName}
			if _, ok, err := viewPatch(rp.pod, Plan(in).Pod, rp.hasMetadata); ok || err != nil {
				t.Fatalf("the view patch serves this pod (ok=%v, %v): not a test of the general path", ok, err)
			}
			slim, whole, slimOut, wholeOut := admitBoth(t, tt.labels, raw)
			if !slim.Allowed || len(slim.Patch) == 0 || slimOut.Result != ResultMutated {
				t.Fatalf("not mutated: %+v %+v", slim, slimOut)
			}
			sameAdmission(t, slim, whole, slimOut, wholeOut)
			again, _ := m.Admit(podRequest(applyPatch(t, raw, slim.Patch)))
			if !again.Allowed || len(again.Patch) > 0 {
				t.Errorf("re-admitting the patched pod: %+v", again)
			}
		})
	}
}

// TestCreatePatchGeneralPathMatchesView forces the general path on every
// case and variant the view patch serves: both patches give the same pod.
func TestCreatePatchGeneralPathMatchesView(t *testing.T) {
	t.Parallel()
	matcher := NewMatcher(DefaultConfig())
	n := 0
	for _, name := range caseNames(t) {
		for _, raw := range [][]byte{readCase(t, name), encodeJSON(t, decodePod(t, readCase(t, name)))} {
			rp, err := decodeRequestPod(raw)
			if err != nil {
				t.Fatal(err)
			}
			match := matcher.Match(rp.pod)
			if !match.Runtime {
				continue
			}
			for _, v := range goldenVariants() {
				pol, _, err := policy.Parse(v.labels)
				if err != nil {
					t.Fatal(err)
				}
				in := PlanInput{Pod: rp.pod, Runtime: match.Containers, Policy: pol, Pool: testPool, SchedulerName: DefaultSchedulerName}
				d := Plan(in)
				if d.Deny != "" || !d.Modified {
					continue
				}
				if _, ok, _ := viewPatch(rp.pod, d.Pod, rp.hasMetadata); !ok {
					t.Fatalf("%s/%s: the view patch does not serve it", name, v.name)
				}
				view, err := createPatch(rp, in, d.Pod)
				if err != nil {
					t.Fatal(err)
				}
				forced := *rp
				forced.hasMetadata = false
				general, err := createPatch(&forced, in, d.Pod)
				if err != nil {
					t.Fatal(err)
				}
				if a, b := applyPatch(t, raw, view), applyPatch(t, raw, general); !jsonEqual(t, a, b) {
					t.Errorf("%s/%s: view patch %s and general patch %s differ:\n%s\n%s", name, v.name, view, general, a, b)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no case compared")
	}
}

// TestAdmitUnreadFieldOfWrongType: a pod whose unread field has the wrong
// JSON type is admitted slim; on the general path, which decodes the whole
// pod, it is the bad object it always was (see podwire.go).
func TestAdmitUnreadFieldOfWrongType(t *testing.T) {
	t.Parallel()
	labels := map[string]string{policy.LabelPattern: "per-node"}
	spec := `"spec":{"volumes":"x","containers":[{"name":"rt","image":"hetida/designer-runtime"}]}`

	slim, whole, slimOut, wholeOut := admitBoth(t, labels, []byte(`{`+spec+`}`))
	sameAdmission(t, slim, whole, slimOut, wholeOut)
	if slim.Allowed || slim.Result.Code != http.StatusBadRequest || slimOut.Reason != ReasonBadObject ||
		!strings.Contains(slim.Result.Message, "hdscale: decoding the pod: json: cannot unmarshal string into Go struct field PodSpec.spec.volumes") {
		t.Errorf("general path: %+v %+v", slim.Result, slimOut)
	}

	slim, whole, slimOut, wholeOut = admitBoth(t, labels, []byte(`{"metadata":{"name":"p"},`+spec+`}`))
	if wholeOut.Reason != ReasonBadObject {
		t.Errorf("whole decode: %+v", wholeOut)
	}
	if !slim.Allowed || len(slim.Patch) == 0 {
		t.Errorf("view path: %+v %+v", slim, slimOut)
	}
	var ops []map[string]any
	if err := json.Unmarshal(slim.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if p, _ := op["path"].(string); strings.HasPrefix(p, "/spec/volumes") {
			t.Errorf("patch touches the unread field: %v", op)
		}
	}
	_ = whole
}
