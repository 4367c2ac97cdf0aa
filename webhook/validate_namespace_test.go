package webhook

import (
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/hdscale/hdscale/internal/policy"
)

func namespaceJSON(t *testing.T, name string, labels map[string]string) []byte {
	t.Helper()
	return encodeJSON(t, map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name, "labels": labels}, "spec": map[string]any{"finalizers": []string{"kubernetes"}}})
}

func nsRequest(t *testing.T, op admissionv1.Operation, labels, oldLabels map[string]string) *admissionv1.AdmissionRequest {
	t.Helper()
	r := &admissionv1.AdmissionRequest{UID: "ns-uid", Kind: namespaceGVK, Resource: metav1.GroupVersionResource{Version: "v1", Resource: "namespaces"},
		Name: "hetida", Operation: op, Object: runtime.RawExtension{Raw: namespaceJSON(t, "hetida", labels)}}
	if oldLabels != nil {
		r.OldObject = runtime.RawExtension{Raw: namespaceJSON(t, "hetida", oldLabels)}
	}
	return r
}

func TestValidateNamespace(t *testing.T) {
	t.Parallel()
	pools := StaticPools{
		"runtime": testPool,
		"mixed":   mixedPool,
	}
	tests := []struct {
		name     string
		op       admissionv1.Operation
		labels   map[string]string
		old      map[string]string
		ready    bool
		allowed  bool
		messages []string
		warning  string
		result   string
	}{
		{name: "valid", op: admissionv1.Create, labels: map[string]string{policy.LabelPattern: "per-core", policy.LabelConflict: "reject"}, ready: true,
			allowed: true, result: ResultAllowed},
		{name: "not opted in", op: admissionv1.Create, labels: map[string]string{"team": "a"}, ready: true, allowed: true, result: ResultAllowed},
		{name: "bad pattern named with allowed values", op: admissionv1.Create, labels: map[string]string{policy.LabelPattern: "per-pod"},
			messages: []string{`namespace hetida: namespace label hdscale.io/pattern="per-pod" must be one of per-node, per-node-single, per-core`}, result: ResultDenied},
		{name: "every bad label named", op: admissionv1.Update, labels: map[string]string{policy.LabelPattern: "per-node", policy.LabelConflict: "merge", policy.LabelWorkersPerCore: "0", "hdscale.io/patern": "x"},
			old: map[string]string{}, messages: []string{policy.LabelConflict + `="merge" must be one of fill, enforce, reject`, policy.LabelWorkersPerCore + `="0" must be an integer from 1 to 16`, `hdscale.io/patern="x" is not an hdscale label`}, result: ResultDenied},
		{name: "typo without opt-in denied", op: admissionv1.Create, labels: map[string]string{"hdscale.io/patern": "per-node"},
			messages: []string{"hdscale.io/patern"}, result: ResultDenied},
		{name: "pool without nodes warns", op: admissionv1.Create, labels: map[string]string{policy.LabelPattern: "per-node", policy.LabelPool: "empty"}, ready: true,
			allowed: true, warning: "hdscale: pool empty: no node is labelled hdscale.io/pool=empty", result: ResultAllowed},
		{name: "no pool warning before caches synced", op: admissionv1.Create, labels: map[string]string{policy.LabelPattern: "per-node", policy.LabelPool: "empty"},
			allowed: true, result: ResultAllowed},
		{name: "uneven pool warns", op: admissionv1.Create, labels: map[string]string{policy.LabelPattern: "per-node-single", policy.LabelPool: "mixed"}, ready: true,
			allowed: true, warning: "hdscale: pool mixed: 3 nodes of 8 CPU, 32Gi; 2 of other shapes get no replicas", result: ResultAllowed},
		{name: "relabel warns", op: admissionv1.Update, labels: map[string]string{policy.LabelPattern: "per-core"}, old: map[string]string{policy.LabelPattern: "per-node"}, ready: true,
			allowed: true, warning: "policy changed (labelsHash", result: ResultAllowed},
		{name: "opt out warns", op: admissionv1.Update, labels: map[string]string{}, old: map[string]string{policy.LabelPattern: "per-node"}, ready: true,
			allowed: true, warning: "namespace opted out", result: ResultAllowed},
		{name: "delete allowed", op: admissionv1.Delete, labels: map[string]string{policy.LabelPattern: "bad"}, allowed: true, result: ResultSkipped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := &NamespaceValidator{Pools: pools, Ready: func() error {
				if tt.ready {
					return nil
				}
				return errBadReview
			}}
			resp := admitHTTP(t, v.Admit, nsRequest(t, tt.op, tt.labels, tt.old))
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tt.allowed, resp.Result)
			}
			for _, m := range tt.messages {
				if resp.Result == nil || !strings.Contains(resp.Result.Message, m) {
					t.Errorf("message %+v lacks %q", resp.Result, m)
				}
			}
			if tt.warning != "" && !containsSubstring(resp.Warnings, tt.warning) {
				t.Errorf("warnings %q lack %q", resp.Warnings, tt.warning)
			}
			if tt.warning == "" && len(resp.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", resp.Warnings)
			}
			_, out := v.Admit(nsRequest(t, tt.op, tt.labels, tt.old))
			if out.Result != tt.result {
				t.Errorf("result %s, want %s", out.Result, tt.result)
			}
		})
	}
}

func TestValidateNamespaceBadInput(t *testing.T) {
	t.Parallel()
	v := &NamespaceValidator{}
	resp, out := v.Admit(&admissionv1.AdmissionRequest{UID: "u", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Operation: admissionv1.Create})
	if !resp.Allowed || out.Reason != ReasonWrongKind || !strings.Contains(resp.Result.Message, "validates only namespaces") {
		t.Errorf("wrong kind: %+v %+v", resp, out)
	}
	resp, out = v.Admit(&admissionv1.AdmissionRequest{UID: "u", Kind: namespaceGVK, Operation: admissionv1.Create})
	if resp.Allowed || out.Reason != ReasonNoObject {
		t.Errorf("no object: %+v %+v", resp, out)
	}
	resp, out = v.Admit(&admissionv1.AdmissionRequest{UID: "u", Kind: namespaceGVK, Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: []byte(`{"metadata":{"labels":[1]}}`)}})
	if resp.Allowed || out.Reason != ReasonBadObject || resp.Result.Code != 400 {
		t.Errorf("bad object: %+v %+v", resp, out)
	}
}
