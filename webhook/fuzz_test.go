package webhook

import (
	"encoding/json"
	"net/http"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// fuzzNamespaces are the namespace labellings the fuzz target picks from.
var fuzzNamespaces = []map[string]string{
	{policy.LabelPattern: "per-node"},
	{policy.LabelPattern: "per-core", policy.LabelConflict: "enforce"},
	{policy.LabelPattern: "per-node-single", policy.LabelConflict: "reject"},
	{policy.LabelPattern: "per-node", policy.LabelMode: "audit", policy.LabelConflict: "enforce"},
	{policy.LabelPattern: "per-node", policy.LabelConflict: "enforce", policy.LabelWorkersPerCore: "3", policy.LabelCPU: "2500m", policy.LabelScheduler: "default"},
	{policy.LabelPattern: "per-core", policy.LabelPool: "empty", policy.LabelConflict: "enforce"},
	{policy.LabelPattern: "per-pod"},
	{"team": "a"},
}

// fuzzEnvelope wraps an object into a pod CREATE AdmissionReview body. The
// object is spliced in unchecked, so invalid JSON makes an invalid body and
// exercises the 400 path too.
func fuzzEnvelope(object []byte) []byte {
	const head = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"4a6ef1c2","kind":{"group":"","version":"v1","kind":"Pod"},` +
		`"resource":{"group":"","version":"v1","resource":"pods"},"namespace":"hetida","operation":"CREATE","object":`
	b := make([]byte, 0, len(head)+len(object)+2)
	return append(append(append(b, head...), object...), "}}"...)
}

// FuzzMutate feeds pod objects (seeded with every testdata case) through the
// /mutate handler under one of fuzzNamespaces and checks: no panic; a 200
// with a decodable AdmissionReview, or a 400/413 for a bad body; warnings
// within MaxWarningLength; and for every allowed response with a patch, that
// the patch applies to the request's object, gives JSON, and that admitting
// the patched pod again changes nothing. It also admits the object with pods
// decoded whole (the reference for the slim decode) and compares.
func FuzzMutate(f *testing.F) {
	for i, name := range caseNames(f) {
		f.Add(readCase(f, name), uint8(i))
		f.Add(encodeJSON(f, decodePod(f, readCase(f, name))), uint8(i+3)) // as the API server serializes it
	}
	f.Add([]byte(`{"spec":{"containers":[{"name":"a","image":"hetida/designer-runtime","env":[{"name":"WEB_CONCURRENCY","value":"x"},{"name":"WEB_CONCURRENCY","valueFrom":{}},{"name":"WORKERS_PER_CORE","value":"1e400"}],"resources":{"limits":{"cpu":"1e3"}}}],"nodeSelector":null,"tolerations":[null]},"metadata":{"annotations":{"hdscale.io/policy":"{}","hdscale.io/conflicts":"[]"}}}`), uint8(1))
	f.Add([]byte(`{"Spec":{},"spec":{"containers":[{"name":"a~/b","image":"localhost:5000/hetida/designer-runtime:1@sha256:00"},{}]},"x/y~z":[1],"status":null}`), uint8(2))
	f.Add([]byte(`{"metadata":{"labels":{"app.kubernetes.io/name":"hetida-designer","app.kubernetes.io/component":"runtime"}},"spec":{"containers":[{"image":"hetida/designer-backend"},{"name":"b"}]}}`), uint8(4))
	f.Add([]byte(`null`), uint8(0))
	f.Add([]byte(`{`), uint8(0))

	mutators := make([]*Mutator, len(fuzzNamespaces))
	wholes := make([]*Mutator, len(fuzzNamespaces))
	handlers := make([]*Handler, len(fuzzNamespaces))
	for i, l := range fuzzNamespaces {
		for _, m := range []**Mutator{&mutators[i], &wholes[i]} {
			*m = testMutator(l)
			(*m).Pools = StaticPools{policy.DefaultPool: testPool, "mixed": mixedPool, "cordoned": cordonedPool}
		}
		wholes[i].wholePods = true
		handlers[i], _ = testHandler(f, PathMutate, mutators[i].Admit)
	}
	f.Fuzz(func(t *testing.T, object []byte, which uint8) {
		m, h := mutators[int(which)%len(mutators)], handlers[int(which)%len(handlers)]
		body := fuzzEnvelope(object)
		if req, err := decodeReview(body); err == nil {
			// The slim pod decode answers as the whole one did, except for a
			// pod whose unread fields have the wrong type (see podwire.go).
			resp, out := m.Admit(req.Request)
			wresp, wout := wholes[int(which)%len(wholes)].Admit(req.Request)
			if wout.Reason != ReasonBadObject || out.Reason == ReasonBadObject {
				sameAdmission(t, resp, wresp, out, wout)
			}
		}
		rec := post(h, body, "application/json")
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			return
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		var review admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil || review.Response == nil {
			t.Fatalf("undecodable response %q: %v", rec.Body.String(), err)
		}
		resp := review.Response
		for _, w := range resp.Warnings {
			if len(w) > MaxWarningLength {
				t.Fatalf("warning of %d bytes: %q", len(w), w)
			}
		}
		if len(resp.Patch) == 0 {
			return
		}
		if !resp.Allowed {
			t.Fatalf("denied response with a patch: %+v", resp)
		}
		req, err := decodeReview(body)
		if err != nil {
			t.Fatalf("handler answered 200 to a body decodeReview rejects: %v", err)
		}
		patched := applyPatch(t, req.Request.Object.Raw, resp.Patch)
		var probe any
		if err := json.Unmarshal(patched, &probe); err != nil {
			t.Fatalf("patched object is not JSON: %v", err)
		}
		again := *req.Request
		again.Object.Raw = patched
		resp2, _ := m.Admit(&again)
		if !resp2.Allowed || len(resp2.Patch) > 0 {
			t.Fatalf("re-admitting the patched pod: allowed=%v patch=%s (first patch %s)", resp2.Allowed, resp2.Patch, resp.Patch)
		}
	})
}
