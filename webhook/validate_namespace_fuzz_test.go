package webhook

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"

	"github.com/hdscale/hdscale/internal/policy"
)

// Flags of FuzzValidateNamespace's flags argument (its which argument picks
// one of fuzzNamespaces).
const (
	nsFuzzOpMask      = 0x03 // CREATE, UPDATE, DELETE, CONNECT
	nsFuzzLabels      = 0x04 // build the object from fuzzNamespaces[which] + key=value, not from object
	nsFuzzOldLabels   = 0x08 // build the old object from fuzzNamespaces[which+1]
	nsFuzzNotReady    = 0x10 // Ready reports the caches unsynced (no pool warnings)
	nsFuzzNoPools     = 0x20 // no Pools at all
	nsFuzzWrongKind   = 0x40 // the request is for a Pod, not a Namespace
	nsFuzzSubresource = 0x80 // the request names a subresource ("status")
)

var nsFuzzOps = [...]admissionv1.Operation{admissionv1.Create, admissionv1.Update, admissionv1.Delete, admissionv1.Connect}

// nsFuzzEnvelope wraps object (and old, when not nil) into a namespace
// AdmissionReview body. Both are spliced in unchecked, so invalid JSON makes
// an invalid body and exercises the 400 path.
func nsFuzzEnvelope(object, old []byte, flags uint8) []byte {
	kind, resource := `{"group":"","version":"v1","kind":"Namespace"}`, `{"group":"","version":"v1","resource":"namespaces"}`
	if flags&nsFuzzWrongKind != 0 {
		kind, resource = `{"group":"","version":"v1","kind":"Pod"}`, `{"group":"","version":"v1","resource":"pods"}`
	}
	var b strings.Builder
	b.Grow(len(object) + len(old) + 300)
	b.WriteString(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"ns-fuzz-uid","kind":`)
	b.WriteString(kind)
	b.WriteString(`,"resource":`)
	b.WriteString(resource)
	if flags&nsFuzzSubresource != 0 {
		b.WriteString(`,"subResource":"status"`)
	}
	b.WriteString(`,"name":"hetida","operation":"`)
	b.WriteString(string(nsFuzzOps[flags&nsFuzzOpMask]))
	b.WriteString(`","object":`)
	b.Write(object)
	if old != nil {
		b.WriteString(`,"oldObject":`)
		b.Write(old)
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

// nsFuzzObject is a Namespace named hetida with labels as JSON.
func nsFuzzObject(tb testing.TB, labels map[string]string) []byte {
	return encodeJSON(tb, map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": "hetida", "labels": labels}})
}

// FuzzValidateNamespace feeds Namespace admission requests through the
// /validate-namespace handler: a fuzzed object (raw JSON, or one of
// fuzzNamespaces' labellings plus a fuzzed label key=value), a fuzzed old
// object, operation, kind and readiness. It checks: no panic; a 200 with a
// decodable AdmissionReview answering the request's uid, or a 400/413 for a
// bad body; no patch ever; warnings non-empty and within MaxWarningLength;
// and the decision against policy.Parse of the object's labels (decoded as
// the API server sends them): rejected labels are denied (403) with a
// message naming the namespace, valid ones allowed, an undecodable or
// missing object errored with 400, and anything that is not a Namespace
// CREATE or UPDATE allowed.
func FuzzValidateNamespace(f *testing.F) {
	// The labellings of TestValidateNamespace and FuzzMutate.
	seedLabels := []map[string]string{
		{policy.LabelPattern: "per-core", policy.LabelConflict: "reject"},
		{policy.LabelPattern: "per-pod"},
		{policy.LabelPattern: "per-node", policy.LabelConflict: "merge", policy.LabelWorkersPerCore: "0", "hdscale.io/patern": "x"},
		{"hdscale.io/patern": "per-node"},
		{policy.LabelPattern: "per-node", policy.LabelPool: "empty"},
		{policy.LabelPattern: "per-node-single", policy.LabelPool: "mixed"},
		{policy.LabelPattern: "per-node-single", policy.LabelPool: "cordoned"},
		{policy.LabelPattern: "per-node", policy.LabelCPU: "1e400", policy.LabelScheduler: "other"},
		{policy.LabelPattern: "per-core", policy.LabelCPU: "1025", policy.LabelMode: "audit", policy.LabelPool: ""},
		{},
	}
	seedLabels = append(seedLabels, fuzzNamespaces...)
	for i, l := range seedLabels {
		obj := nsFuzzObject(f, l)
		f.Add(obj, []byte(nil), "", "", uint8(0), uint8(i))                                        // CREATE
		f.Add(obj, nsFuzzObject(f, seedLabels[(i+1)%len(seedLabels)]), "", "", uint8(1), uint8(i)) // UPDATE
	}
	f.Add([]byte(nil), []byte(nil), policy.LabelPattern, "per-node", uint8(nsFuzzLabels), uint8(0))
	f.Add([]byte(nil), []byte(nil), policy.LabelCPU, "2500m", uint8(nsFuzzLabels|nsFuzzOldLabels|1), uint8(3))
	f.Add([]byte(nil), []byte(nil), policy.LabelWorkersPerCore, "16", uint8(nsFuzzLabels|1), uint8(1))
	f.Add([]byte(nil), []byte(nil), policy.LabelPool, "a\x00b", uint8(nsFuzzLabels|nsFuzzNoPools), uint8(0))
	f.Add([]byte(nil), []byte(nil), "hdscale.io/"+strings.Repeat("x", 200), strings.Repeat("\xff", 300), uint8(nsFuzzLabels), uint8(0))
	f.Add([]byte(`{"metadata":{"labels":[1]}}`), []byte(nil), "", "", uint8(0), uint8(0))
	f.Add([]byte(`{"metadata":{"name":"","labels":{"hdscale.io/pattern":"per-node"}}}`), []byte(`{"metadata":{"labels":{"hdscale.io/pattern":"per-core"}}}`), "", "", uint8(1), uint8(0))
	f.Add([]byte(`{"Metadata":{"Labels":{"hdscale.io/pattern":"bad"}}}`), []byte(`{`), "", "", uint8(1), uint8(0))
	f.Add([]byte(`null`), []byte(nil), "", "", uint8(0), uint8(0))
	f.Add([]byte(`"x"`), []byte(nil), "", "", uint8(0), uint8(0))
	f.Add([]byte(`{`), []byte(nil), "", "", uint8(0), uint8(0))
	f.Add([]byte(`{}`), []byte(nil), "", "", uint8(2), uint8(0))
	f.Add([]byte(`{}`), []byte(nil), "", "", uint8(nsFuzzWrongKind), uint8(0))
	f.Add([]byte(`{}`), []byte(nil), "", "", uint8(nsFuzzSubresource|nsFuzzNotReady), uint8(0))

	pools := StaticPools{policy.DefaultPool: testPool, "mixed": mixedPool, "cordoned": cordonedPool}
	notReady := errors.New("caches not synced")
	validators := make([]*NamespaceValidator, 4) // [noPools<<1 | notReady]
	handlers := make([]*Handler, len(validators))
	for i := range validators {
		v := &NamespaceValidator{Pools: pools, Ready: func() error { return nil }}
		if i&1 != 0 {
			v.Ready = func() error { return notReady }
		}
		if i&2 != 0 {
			v.Pools = nil
		}
		validators[i] = v
		handlers[i], _ = testHandler(f, PathValidateNamespace, v.Admit)
	}
	f.Fuzz(func(t *testing.T, object, old []byte, key, value string, flags, which uint8) {
		base := int(which) % len(fuzzNamespaces)
		if flags&nsFuzzLabels != 0 {
			labels := make(map[string]string, len(fuzzNamespaces[base])+1)
			for k, v := range fuzzNamespaces[base] {
				labels[k] = v
			}
			if key != "" {
				labels[key] = value
			}
			object = nsFuzzObject(t, labels)
		}
		if flags&nsFuzzOldLabels != 0 {
			old = nsFuzzObject(t, fuzzNamespaces[(base+1)%len(fuzzNamespaces)])
		}
		sel := 0
		if flags&nsFuzzNotReady != 0 {
			sel |= 1
		}
		if flags&nsFuzzNoPools != 0 {
			sel |= 2
		}
		body := nsFuzzEnvelope(object, old, flags)
		rec := post(handlers[sel], body, "application/json")
		review, err := decodeReview(body)
		switch rec.Code {
		case http.StatusOK:
			if err != nil {
				t.Fatalf("200 for a body decodeReview rejects (%v): %s", err, body)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if err == nil {
				t.Fatalf("status %d for a valid review: %s", rec.Code, rec.Body.String())
			}
			return
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		var got admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Response == nil {
			t.Fatalf("undecodable response %q: %v", rec.Body.String(), err)
		}
		if got.APIVersion != "admission.k8s.io/v1" || got.Kind != "AdmissionReview" {
			t.Fatalf("response review is %s %s", got.APIVersion, got.Kind)
		}
		req, resp := review.Request, got.Response
		if resp.UID != req.UID {
			t.Fatalf("response uid %q answers request uid %q", resp.UID, req.UID)
		}
		if len(resp.Patch) > 0 || resp.PatchType != nil {
			t.Fatalf("the namespace validator patched: %s", resp.Patch)
		}
		for _, w := range resp.Warnings {
			if w == "" || len(w) > MaxWarningLength {
				t.Fatalf("warning of %d bytes: %q", len(w), w)
			}
		}
		if !resp.Allowed && (resp.Result == nil || resp.Result.Message == "") {
			t.Fatalf("denied without a message: %+v", resp)
		}

		// The decision, worked out from the request independently.
		if req.Kind != namespaceGVK || req.SubResource != "" ||
			(req.Operation != admissionv1.Create && req.Operation != admissionv1.Update) {
			if !resp.Allowed || len(resp.Warnings) > 0 {
				t.Fatalf("%s %s/%q: allowed=%v warnings=%q, want allowed without warnings", req.Operation, req.Kind.Kind, req.SubResource, resp.Allowed, resp.Warnings)
			}
			return
		}
		if len(req.Object.Raw) == 0 {
			if resp.Allowed || resp.Result.Code != http.StatusBadRequest {
				t.Fatalf("no object: %+v, want a 400", resp.Result)
			}
			return
		}
		var ns metav1.PartialObjectMetadata
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(req.Object.Raw, &ns); err != nil {
			if resp.Allowed || resp.Result.Code != http.StatusBadRequest {
				t.Fatalf("undecodable object (%v): %+v, want a 400", err, resp.Result)
			}
			return
		}
		pol, optedIn, perr := policy.Parse(ns.Labels)
		if perr != nil {
			if resp.Allowed || resp.Result.Code != http.StatusForbidden || !strings.Contains(resp.Result.Message, perr.Error()) {
				t.Fatalf("labels %q rejected by policy.Parse (%v) but the answer is %+v", ns.Labels, perr, resp)
			}
			return
		}
		if !resp.Allowed {
			t.Fatalf("valid labels %q (pattern %q, opted in %v) denied: %+v", ns.Labels, pol.Pattern, optedIn, resp.Result)
		}
		if req.Operation == admissionv1.Create && (!optedIn || sel != 0) && len(resp.Warnings) > 0 {
			t.Fatalf("warnings %q without a pool to warn about", resp.Warnings)
		}
	})
}
