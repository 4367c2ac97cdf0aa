package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

func TestHandlerAllowsWithTheRequestUID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		code       int
		uid        string
	}{
		{"review", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"4a6ef1c2-6a61","object":{"kind":"Pod"}}}`, 200, "4a6ef1c2-6a61"},
		{"uid needing escapes", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"a\"b"}}`, 200, `a"b`},
		{"no request", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, 400, ""},
		{"wrong kind", `{"apiVersion":"v1","kind":"Pod","request":{"uid":"x"}}`, 400, ""},
		{"not json", `{`, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHandler()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/mutate", strings.NewReader(tc.body)))
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.code, rec.Body)
			}
			if tc.code != 200 {
				return
			}
			var out struct {
				APIVersion, Kind string
				Response         struct {
					UID       string  `json:"uid"`
					Allowed   bool    `json:"allowed"`
					Patch     *string `json:"patch"`
					PatchType *string `json:"patchType"`
				}
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("%v: %s", err, rec.Body)
			}
			if out.Response.UID != tc.uid || !out.Response.Allowed || out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" {
				t.Errorf("answer %s", rec.Body)
			}
			if out.Response.Patch != nil || out.Response.PatchType != nil {
				t.Errorf("the plain handler patched: %s", rec.Body)
			}
		})
	}
}

// admit sends one AdmissionReview request carrying object (omitted when
// empty) to h and returns the response's uid and decoded JSON patch (nil
// when there is none).
func admit(t *testing.T, h http.Handler, uid, object string) (string, []byte) {
	t.Helper()
	req := `{"uid":` + strconv.Quote(uid) + `,"kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE"`
	if object != "" {
		req += `,"object":` + object
	}
	body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":` + req + `}}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/mutate", strings.NewReader(body)))
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var out struct {
		APIVersion, Kind string
		Response         struct {
			UID       string `json:"uid"`
			Allowed   bool   `json:"allowed"`
			Patch     []byte `json:"patch"` // base64 in JSON
			PatchType string `json:"patchType"`
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if !out.Response.Allowed || out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" {
		t.Fatalf("answer %s", rec.Body)
	}
	if (out.Response.Patch != nil) != (out.Response.PatchType == "JSONPatch") {
		t.Fatalf("patch and patchType disagree: %s", rec.Body)
	}
	return out.Response.UID, out.Response.Patch
}

func TestPatchingHandlerAddsTheAnnotation(t *testing.T) {
	t.Parallel()
	const key = "bench.hdscale.io/noop"
	// A pod as the API server sends it, with and without annotations.
	const spec = `"spec":{"containers":[{"name":"rt","image":"hetida/designer-runtime:0.9","resources":{}}]},"status":{}`
	tests := []struct {
		name, object string
		want         map[string]string // annotations after the patch
		needsNewMap  bool              // the single-key add cannot apply
	}{
		{"existing annotations", `{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"rt-","namespace":"ns","annotations":{"prometheus.io/scrape":"true"}},` + spec + `}`,
			map[string]string{"prometheus.io/scrape": "true", key: "1"}, false},
		{"empty annotations", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"rt","annotations":{}},` + spec + `}`,
			map[string]string{key: "1"}, false},
		{"annotation already set", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"rt","annotations":{"bench.hdscale.io/noop":"0"}},` + spec + `}`,
			map[string]string{key: "1"}, false},
		{"no annotations", `{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"rt-","namespace":"ns","labels":{"a":"b"}},` + spec + `}`,
			map[string]string{key: "1"}, true},
		{"null annotations", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"rt","annotations":null},` + spec + `}`,
			map[string]string{key: "1"}, true},
		{"annotations in the spec only", `{"metadata":{"name":"rt"},"spec":{"annotations":{"x":"y"}}}`,
			map[string]string{key: "1"}, true},
		{"no metadata", `{"apiVersion":"v1","kind":"Pod",` + spec + `}`,
			map[string]string{key: "1"}, true},
	}
	h, err := newPatchingHandler(key, "1")
	if err != nil {
		t.Fatal(err)
	}
	single, err := jsonpatch.DecodePatch([]byte(`[{"op":"add","path":"/metadata/annotations/bench.hdscale.io~1noop","value":"1"}]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			uid, raw := admit(t, h, "4a6ef1c2-6a61", tc.object)
			if uid != "4a6ef1c2-6a61" {
				t.Errorf("uid %q", uid)
			}
			patch, err := jsonpatch.DecodePatch(raw)
			if err != nil {
				t.Fatalf("%v: %s", err, raw)
			}
			if len(patch) != 1 {
				t.Errorf("%d operations, want 1: %s", len(patch), raw)
			}
			got, err := patch.Apply([]byte(tc.object))
			if err != nil {
				t.Fatalf("the patch %s does not apply: %v", raw, err)
			}
			var pod struct {
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(got, &pod); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pod.Metadata.Annotations, tc.want) {
				t.Errorf("annotations %v, want %v (patch %s)", pod.Metadata.Annotations, tc.want, raw)
			}
			// Nothing but the annotation changed.
			var before, after map[string]any
			_ = json.Unmarshal([]byte(tc.object), &before)
			_ = json.Unmarshal(got, &after)
			for _, m := range []map[string]any{before, after} {
				if md, ok := m["metadata"].(map[string]any); ok {
					delete(md, "annotations")
					if len(md) == 0 {
						delete(m, "metadata")
					}
				}
			}
			if !reflect.DeepEqual(before, after) {
				t.Errorf("the patch changed more than the annotation: %s", got)
			}
			// The case is the one it claims: the single-key form fails
			// exactly where the handler had to add a whole map.
			if _, err := single.Apply([]byte(tc.object)); (err != nil) != tc.needsNewMap {
				t.Errorf("single-key add on this object: err %v, needsNewMap %v", err, tc.needsNewMap)
			}
		})
	}
}

func TestPatchingHandlerEscapesAndSkipsObjectless(t *testing.T) {
	t.Parallel()
	h, err := newPatchingHandler("a~b/c", `q"v`)
	if err != nil {
		t.Fatal(err)
	}
	_, raw := admit(t, h, "u", `{"metadata":{"annotations":{"x":"y"}}}`)
	if want := `[{"op":"add","path":"/metadata/annotations/a~0b~1c","value":"q\"v"}]`; string(raw) != want {
		t.Errorf("patch %s, want %s", raw, want)
	}
	if _, raw := admit(t, h, "u", ""); raw != nil {
		t.Errorf("patch %s for a request without an object", raw)
	}
	if _, raw := admit(t, h, "u", "null"); raw != nil {
		t.Errorf("patch %s for a null object", raw)
	}
	if _, err := newPatchingHandler("", "1"); err == nil {
		t.Error("empty key accepted")
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	hwm, rss := parseStatus(strings.NewReader("Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t    1024 kB\n"))
	if hwm != 20480<<10 || rss != 1024<<10 {
		t.Errorf("hwm %d rss %d", hwm, rss)
	}
}

func TestGenerateServesTheHosts(t *testing.T) {
	t.Parallel()
	caPEM, certPEM, keyPEM, err := generate([]string{"noop.ns.svc", "127.0.0.1"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("bad CA PEM")
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"noop.ns.svc", "127.0.0.1"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
}
