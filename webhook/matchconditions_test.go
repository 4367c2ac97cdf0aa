package webhook

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/google/cel-go/cel"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/cel/environment"
	"sigs.k8s.io/yaml"

	"github.com/hdscale/hdscale/internal/quantityguard"
)

// The API server only sends hdscale the pods that pass the shipped
// matchConditions (CEL); the Go matcher then decides which are runtime pods.
// The conditions must accept every pod the matcher classifies as runtime,
// and must never fail to evaluate (an error counts as a webhook failure:
// with failurePolicy Fail, the pod would be denied).

// shippedConditions compiles the matchConditions of every webhook entry of
// manifests/webhook/mutatingwebhookconfiguration.yaml that calls path, with
// the Kubernetes CEL environment the API server uses.
type compiledConditions struct {
	webhook  string
	programs []cel.Program
	names    []string
}

var (
	conditionsOnce sync.Once
	conditionsMWC  admissionregistrationv1.MutatingWebhookConfiguration
	conditionsErr  error
)

func shippedWebhooks(tb testing.TB) admissionregistrationv1.MutatingWebhookConfiguration {
	tb.Helper()
	conditionsOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join("..", "manifests", "webhook", "mutatingwebhookconfiguration.yaml"))
		if err != nil {
			conditionsErr = err
			return
		}
		conditionsErr = yaml.UnmarshalStrict(data, &conditionsMWC)
	})
	if conditionsErr != nil {
		tb.Fatal(conditionsErr)
	}
	return conditionsMWC
}

func shippedConditions(tb testing.TB, path string) []compiledConditions {
	tb.Helper()
	env, err := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()).Env(environment.StoredExpressions)
	if err != nil {
		tb.Fatal(err)
	}
	env, err = env.Extend(cel.Variable("object", cel.DynType), cel.Variable("oldObject", cel.DynType))
	if err != nil {
		tb.Fatal(err)
	}
	var out []compiledConditions
	for _, w := range shippedWebhooks(tb).Webhooks {
		if w.ClientConfig.Service == nil || w.ClientConfig.Service.Path == nil || *w.ClientConfig.Service.Path != path {
			continue
		}
		cc := compiledConditions{webhook: w.Name}
		for _, mc := range w.MatchConditions {
			ast, iss := env.Compile(mc.Expression)
			if iss.Err() != nil {
				tb.Fatalf("%s: matchCondition %s does not compile: %v", w.Name, mc.Name, iss.Err())
			}
			if ast.OutputType() != cel.BoolType {
				tb.Fatalf("%s: matchCondition %s is of type %v, want bool", w.Name, mc.Name, ast.OutputType())
			}
			prg, err := env.Program(ast)
			if err != nil {
				tb.Fatal(err)
			}
			cc.programs, cc.names = append(cc.programs, prg), append(cc.names, mc.Name)
		}
		out = append(out, cc)
	}
	if len(out) == 0 {
		tb.Fatalf("no webhook entry calls %s", path)
	}
	return out
}

// evalConditions evaluates cc on object (the JSON the API server holds, as
// unstructured): whether all conditions hold, and the first evaluation error.
func evalConditions(cc compiledConditions, object any) (bool, string, error) {
	for i, prg := range cc.programs {
		v, _, err := prg.Eval(map[string]any{"object": object, "oldObject": nil})
		if err != nil {
			return false, cc.names[i], err
		}
		if b, ok := v.Value().(bool); !ok || !b {
			return false, cc.names[i], nil
		}
	}
	return true, "", nil
}

// checkConditionsAgree fails tb when a pod JSON the Go matcher classifies as
// runtime is not accepted by every /mutate entry, or any entry errs on it.
func checkConditionsAgree(tb testing.TB, conds []compiledConditions, m *Matcher, raw []byte) {
	tb.Helper()
	var pod corev1.Pod
	if quantityguard.Check(raw) != nil || json.Unmarshal(raw, &pod) != nil {
		return // not a pod the API server would store (or one it takes minutes to parse)
	}
	// The API server evaluates the conditions on the typed object converted
	// to unstructured, never on the JSON a client sent: do the same.
	var object map[string]any
	if err := json.Unmarshal(encodeJSON(tb, &pod), &object); err != nil {
		tb.Fatal(err)
	}
	runtime := m.Match(&pod).Runtime
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		runtime = false // excluded on purpose by not-a-mirror-pod
	}
	for _, cc := range conds {
		ok, name, err := evalConditions(cc, object)
		if err != nil {
			tb.Errorf("%s: matchCondition %s fails to evaluate on %s: %v", cc.webhook, name, truncateBytes(raw), err)
			continue
		}
		if runtime && !ok {
			tb.Errorf("%s: matchCondition %s rejects a pod the webhook classifies as runtime: %s", cc.webhook, name, truncateBytes(raw))
		}
	}
}

func truncateBytes(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// TestMatchConditionsAgreeWithMatcher evaluates the shipped matchConditions
// on every testdata case, every golden outcome pod and the decode seeds.
func TestMatchConditionsAgreeWithMatcher(t *testing.T) {
	t.Parallel()
	conds := shippedConditions(t, PathMutate)
	m := NewMatcher(DefaultConfig())
	inputs := podSeeds(t)
	goldens, err := filepath.Glob(filepath.Join("testdata", "golden", "*", "*.yaml"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range goldens {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var g golden
		if err := yaml.Unmarshal(data, &g); err != nil {
			t.Fatal(err)
		}
		if g.Pod != nil {
			inputs = append(inputs, encodeJSON(t, g.Pod))
		}
	}
	runtimes := 0
	for _, raw := range inputs {
		var pod corev1.Pod
		if json.Unmarshal(raw, &pod) == nil && m.Match(&pod).Runtime {
			runtimes++
		}
		checkConditionsAgree(t, conds, m, raw)
	}
	// The Deployment entry, on the same pods as the templates of Deployments.
	dconds := shippedConditions(t, PathMutateDeployment)
	for _, raw := range inputs {
		var pod corev1.Pod
		if json.Unmarshal(raw, &pod) != nil {
			continue
		}
		d := appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec}}}
		var object map[string]any
		if err := json.Unmarshal(encodeJSON(t, &d), &object); err != nil {
			t.Fatal(err)
		}
		for _, cc := range dconds {
			ok, name, err := evalConditions(cc, object)
			switch {
			case err != nil:
				t.Errorf("%s: matchCondition %s fails to evaluate on a Deployment of %s: %v", cc.webhook, name, truncateBytes(raw), err)
			case m.Match(&pod).Runtime && !ok:
				t.Errorf("%s: matchCondition %s rejects a Deployment whose template the webhook classifies as runtime: %s", cc.webhook, name, truncateBytes(raw))
			}
		}
	}
	if runtimes < 10 {
		t.Errorf("only %d of %d inputs are runtime pods: the test checks too little", runtimes, len(inputs))
	}
}

// The enforce and audit pod webhooks must send hdscale the same pods.
func TestPodWebhookEntriesAgree(t *testing.T) {
	t.Parallel()
	var pods []admissionregistrationv1.MutatingWebhook
	for _, w := range shippedWebhooks(t).Webhooks {
		if w.ClientConfig.Service != nil && w.ClientConfig.Service.Path != nil && *w.ClientConfig.Service.Path == PathMutate {
			pods = append(pods, w)
		}
	}
	if len(pods) != 2 {
		t.Fatalf("%d webhook entries call %s, want 2 (enforce and audit)", len(pods), PathMutate)
	}
	a, b := pods[0], pods[1]
	if !reflect.DeepEqual(a.MatchConditions, b.MatchConditions) || !reflect.DeepEqual(a.Rules, b.Rules) ||
		!reflect.DeepEqual(a.ReinvocationPolicy, b.ReinvocationPolicy) || !reflect.DeepEqual(a.TimeoutSeconds, b.TimeoutSeconds) {
		t.Errorf("%s and %s differ in rules, matchConditions, reinvocation or timeout", a.Name, b.Name)
	}
	for _, w := range pods {
		want := admissionregistrationv1.Fail
		if w.Name == "audit-pods.hdscale.io" {
			want = admissionregistrationv1.Ignore
		}
		if w.FailurePolicy == nil || *w.FailurePolicy != want {
			t.Errorf("%s: failurePolicy %v, want %s", w.Name, w.FailurePolicy, want)
		}
	}
}

// FuzzMatchConditions: on any pod JSON, the shipped conditions never fail to
// evaluate and accept every pod the Go matcher classifies as runtime.
func FuzzMatchConditions(f *testing.F) {
	for _, s := range podSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte(`{"spec":{"containers":[{"image":"x","env":[{"name":"HD_IS_BACKEND_SERVICE","value":" OFF "}]}]}}`))
	f.Add([]byte(`{"metadata":{"labels":{"app.kubernetes.io/name":"hetida-designer","app.kubernetes.io/component":"runtime"}},"spec":{"containers":null}}`))
	f.Add([]byte(`{"spec":{"containers":[{"env":null,"image":null}]}}`))
	conds := shippedConditions(f, PathMutate)
	m := NewMatcher(DefaultConfig())
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkConditionsAgree(t, conds, m, raw)
	})
}
