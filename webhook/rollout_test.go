package webhook

import (
	"encoding/json"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hdscale/hdscale/internal/policy"
)

func rolling(surge, unavailable *intstr.IntOrString) appsv1.DeploymentStrategy {
	return appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: surge, MaxUnavailable: unavailable}}
}

func TestPlanRollout(t *testing.T) {
	t.Parallel()
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	num := func(n int) *intstr.IntOrString { v := intstr.FromInt(n); return &v }
	ns := func(kv ...string) policy.Namespace {
		return mustParse(t, nsLabels(append([]string{policy.LabelPattern, "per-node"}, kv...)...))
	}
	tests := []struct {
		name               string
		s                  appsv1.DeploymentStrategy
		ns                 policy.Namespace
		surge, unavailable bool
		deny, warn         string
		conflict           Action
	}{
		{"the API server's default: maxSurge 0", rolling(pct("25%"), pct("25%")), ns(), true, false, "", "maxSurge 25% -> 0", ""},
		{"rollingUpdate absent counts as the default", appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}, ns(), true, false, "", "maxSurge 25% -> 0", ""},
		{"maxUnavailable 0 becomes 1", rolling(pct("25%"), num(0)), ns(), true, true, "", "maxSurge 25% -> 0", ""},
		{"already no surge", rolling(num(0), num(1)), ns(), false, false, "", "", ""},
		{"0% surge", rolling(pct("0%"), num(1)), ns(), false, false, "", "", ""},
		{"Recreate never surges", appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}, ns(), false, false, "", "", ""},
		{"own surge, fill keeps it", rolling(num(1), num(0)), ns(), false, false, "", "kept maxSurge 1", ActionKept},
		{"own surge, enforce sets 0", rolling(num(2), num(0)), ns(policy.LabelConflict, "enforce"), true, true, "", "maxSurge 2 -> 0", ActionOverwritten},
		{"own surge, reject denies", rolling(pct("50%"), num(0)), ns(policy.LabelConflict, "reject"), false, false, "maxSurge 50% contradicts", "", ActionDenied},
		{"audit only warns", rolling(pct("25%"), pct("25%")), ns(policy.LabelMode, "audit"), false, false, "", "hdscale audit: would set spec.strategy.rollingUpdate.maxSurge 25% -> 0", ""},
		{"audit with reject only warns", rolling(num(1), num(0)), ns(policy.LabelMode, "audit", policy.LabelConflict, "reject"), false, false, "", "hdscale audit: would deny", ActionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := PlanRollout(tt.s, tt.ns)
			if d.SetMaxSurge != tt.surge || d.SetMaxUnavailable != tt.unavailable {
				t.Errorf("set maxSurge %v maxUnavailable %v, want %v %v", d.SetMaxSurge, d.SetMaxUnavailable, tt.surge, tt.unavailable)
			}
			if (tt.deny == "") != (d.Deny == "") || !strings.Contains(d.Deny, tt.deny) {
				t.Errorf("deny %q, want one containing %q", d.Deny, tt.deny)
			}
			if tt.warn != "" && !containsSubstring(d.Warnings, tt.warn) {
				t.Errorf("warnings %q lack %q", d.Warnings, tt.warn)
			}
			if tt.warn == "" && len(d.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", d.Warnings)
			}
			if got := Action(""); d.Conflict != nil {
				got = d.Conflict.Action
				if got != tt.conflict {
					t.Errorf("conflict action %q, want %q", got, tt.conflict)
				}
			} else if tt.conflict != "" {
				t.Errorf("no conflict, want %q", tt.conflict)
			}
			for _, w := range d.Warnings {
				if len(capWarning(w)) != len(w) {
					t.Errorf("warning longer than %d bytes: %q", MaxWarningLength, w)
				}
			}
		})
	}
}

// runtimeDeployment is a runtime Deployment as the API server hands it to
// the webhook: strategy defaulted to RollingUpdate 25%/25%.
func runtimeDeployment() *appsv1.Deployment {
	pct := intstr.FromString("25%")
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "hetida-designer-runtime", Namespace: testNamespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "rt"}},
			Strategy: rolling(&pct, &pct),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "rt"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "runtime", Image: "hetida/designer-runtime:0.9.7"}}},
			},
		},
	}
}

func deploymentRequest(tb testing.TB, op admissionv1.Operation, d *appsv1.Deployment) *admissionv1.AdmissionRequest {
	return &admissionv1.AdmissionRequest{
		UID:       "5b7e2d1c-0000-4000-8000-00000000d3b1",
		Kind:      deploymentGVK,
		Resource:  metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
		Namespace: testNamespace,
		Operation: op,
		Object:    runtime.RawExtension{Raw: encodeJSON(tb, d)},
	}
}

func TestDeploymentMutatorAdmit(t *testing.T) {
	t.Parallel()
	m := &DeploymentMutator{Matcher: NewMatcher(DefaultConfig()), Namespaces: StaticNamespaces{testNamespace: perNode, "plain": {}}}
	backend := runtimeDeployment()
	backend.Spec.Template.Spec.Containers[0].Image = "hetida/designer-backend:0.9.7"
	noAnnotations := runtimeDeployment()
	withAnnotations := runtimeDeployment()
	withAnnotations.Annotations = map[string]string{"owner": "team-a"}
	unavailableZero := runtimeDeployment()
	unavailableZero.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr(intstr.FromInt(0))
	recreate := runtimeDeployment()
	recreate.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	other := runtimeDeployment()
	other.Namespace = "plain"
	tests := []struct {
		name       string
		op         admissionv1.Operation
		d          *appsv1.Deployment
		result     string
		surge      string // maxSurge after the patch ("" when not patched)
		unavail    string
		annotation bool
	}{
		{"create: default strategy gets maxSurge 0", admissionv1.Create, noAnnotations, ResultMutated, "0", "25%", true},
		{"update: existing annotations kept", admissionv1.Update, withAnnotations, ResultMutated, "0", "25%", true},
		{"maxUnavailable 0 becomes 1", admissionv1.Create, unavailableZero, ResultMutated, "0", "1", true},
		{"Recreate unchanged", admissionv1.Create, recreate, ResultUnchanged, "", "", false},
		{"backend skipped", admissionv1.Create, backend, ResultSkipped, "", "", false},
		{"namespace not opted in skipped", admissionv1.Create, other, ResultSkipped, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := deploymentRequest(t, tt.op, tt.d)
			req.Namespace = tt.d.Namespace
			resp, out := m.Admit(req)
			if !resp.Allowed || out.Result != tt.result {
				t.Fatalf("allowed %v result %s, want allowed %s (%+v)", resp.Allowed, out.Result, tt.result, resp.Result)
			}
			if tt.surge == "" {
				if len(resp.Patch) != 0 {
					t.Errorf("patched: %s", resp.Patch)
				}
				return
			}
			p, err := jsonpatch.DecodePatch(resp.Patch)
			if err != nil {
				t.Fatal(err)
			}
			out2, err := p.Apply(req.Object.Raw)
			if err != nil {
				t.Fatalf("patch %s does not apply: %v", resp.Patch, err)
			}
			var got appsv1.Deployment
			if err := json.Unmarshal(out2, &got); err != nil {
				t.Fatal(err)
			}
			ru := got.Spec.Strategy.RollingUpdate
			if ru.MaxSurge.String() != tt.surge || ru.MaxUnavailable.String() != tt.unavail {
				t.Errorf("strategy after patch: maxSurge %s maxUnavailable %s, want %s %s", ru.MaxSurge, ru.MaxUnavailable, tt.surge, tt.unavail)
			}
			if note := got.Annotations[AnnotationRollout]; tt.annotation && !strings.HasPrefix(note, "maxSurge 25% -> 0") {
				t.Errorf("annotation %s = %q", AnnotationRollout, note)
			}
			if tt.d.Annotations["owner"] != "" && got.Annotations["owner"] != "team-a" {
				t.Errorf("existing annotations lost: %v", got.Annotations)
			}
			// Admitting the result again changes nothing.
			again := deploymentRequest(t, admissionv1.Update, &got)
			if resp2, out2 := m.Admit(again); len(resp2.Patch) != 0 || out2.Result != ResultUnchanged {
				t.Errorf("re-admission: %s %s", out2.Result, resp2.Patch)
			}
		})
	}
	// Wrong kinds and bad bodies are answered, never a panic.
	if resp, out := m.Admit(podRequest([]byte(`{}`))); !resp.Allowed || out.Reason != ReasonWrongKind {
		t.Errorf("pod sent to the Deployment webhook: %+v %+v", resp, out)
	}
	bad := deploymentRequest(t, admissionv1.Create, runtimeDeployment())
	bad.Object.Raw = []byte(`{"spec":{"replicas":"x"}}`)
	if resp, out := m.Admit(bad); resp.Allowed || out.Reason != ReasonBadObject {
		t.Errorf("bad body: %+v %+v", resp.Result, out)
	}
	denyNS := &DeploymentMutator{Matcher: NewMatcher(DefaultConfig()),
		Namespaces: StaticNamespaces{testNamespace: nsLabels(policy.LabelPattern, "per-core", policy.LabelConflict, "reject")}}
	own := runtimeDeployment()
	own.Spec.Strategy.RollingUpdate.MaxSurge = ptr(intstr.FromInt(1))
	if resp, out := denyNS.Admit(deploymentRequest(t, admissionv1.Create, own)); resp.Allowed || out.Result != ResultDenied ||
		!strings.Contains(resp.Result.Message, "maxSurge 1") {
		t.Errorf("reject mode: %+v %+v", resp.Result, out)
	}
}
