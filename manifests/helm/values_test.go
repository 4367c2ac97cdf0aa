package helm

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/cel/environment"

	"github.com/hdscale/hdscale/webhook"
)

// customValues changes one of nearly every value of the chart.
func customValues() map[string]any {
	return map[string]any{
		"namespace":         map[string]any{"create": false},
		"image":             map[string]any{"registry": "registry.example.com/mirror", "tag": "v9.9.9", "pullPolicy": "Always"},
		"imagePullSecrets":  []any{map[string]any{"name": "regcred"}},
		"priorityClassName": "mycorp-high",
		"priorityClass":     map[string]any{"create": false},
		"webhook": map[string]any{
			"replicas":            3,
			"podDisruptionBudget": map[string]any{"minAvailable": 2},
			"logLevel":            "debug",
			"logDevelopment":      true,
			"failurePolicy":       "Ignore",
			"timeoutSeconds":      10,
			"excludedNamespaces":  []any{"kube-system", "monitoring"},
			"resources":           map[string]any{"limits": map[string]any{"memory": "1Gi"}},
			// null drops the default entry (Helm merges maps).
			"nodeSelector": map[string]any{"kubernetes.io/os": nil, "node-role.kubernetes.io/infra": ""},
			"tolerations":  []any{map[string]any{"key": "infra", "operator": "Exists", "effect": "NoSchedule"}},
			"affinity": map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
				"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{"key": "zone", "operator": "In", "values": []any{"a"}}}}},
			}}},
			"topologySpreadConstraints": []any{map[string]any{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}},
		},
		"scheduler": map[string]any{
			"replicas":                  3,
			"podDisruptionBudget":       map[string]any{"enabled": false},
			"topologySpreadConstraints": []any{},
			"extender":                  map[string]any{"logLevel": "debug"},
			"kubeScheduler": map[string]any{
				// empty tag: the cluster's version
				"image":     map[string]any{"registry": "registry.k8s.io", "repository": "kube-scheduler", "tag": ""},
				"command":   "/usr/local/bin/kube-scheduler",
				"verbosity": 4,
			},
		},
		"runtimeRules": map[string]any{
			"runtime": map[string]any{
				"images": []any{"mycorp/hd-runtime"},
				"env":    []any{map[string]any{"name": "MY_RUNTIME", "values": []any{"Yes", " 1 ", "it's"}}},
			},
			"podLabels": map[string]any{
				"app.kubernetes.io/name": nil, "app.kubernetes.io/component": nil,
				"mycorp.io/role": "runtime",
			},
			"pools": map[string]any{"runtime": map[string]any{"nodeCPU": "7910m"}},
		},
		"serviceMonitor": map[string]any{"enabled": true, "interval": "15s", "labels": map[string]any{"release": "prom"}},
		"networkPolicy":  map[string]any{"enabled": true},
	}
}

var (
	webhookDeploy   = objKey{"apps/v1", "Deployment", releaseNamespace, "hdscale-webhook"}
	schedulerDeploy = objKey{"apps/v1", "Deployment", releaseNamespace, "hdscale-scheduler"}
	mwcKey          = objKey{"admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "", "hdscale"}
	vwcKey          = objKey{"admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "", "hdscale"}
	webhookConfig   = objKey{"v1", "ConfigMap", releaseNamespace, "hdscale-webhook-config"}
)

func expect(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s: got %s, want %s", what, g, w)
	}
}

func strs(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestChartCustomValues renders non-default values and checks the fields
// they set.
func TestChartCustomValues(t *testing.T) {
	t.Parallel()
	r := mustRender(t, customValues())
	o := r.objects
	for _, k := range []objKey{
		{"v1", "Namespace", "", releaseNamespace},
		{"scheduling.k8s.io/v1", "PriorityClass", "", "hdscale-critical"},
		{"scheduling.k8s.io/v1", "PriorityClass", "", "mycorp-high"},
		{"policy/v1", "PodDisruptionBudget", releaseNamespace, "hdscale-scheduler"},
	} {
		if _, ok := o[k]; ok {
			t.Errorf("%s rendered, though switched off", k)
		}
	}
	for _, k := range []objKey{
		{"monitoring.coreos.com/v1", "ServiceMonitor", releaseNamespace, "hdscale"},
		{"v1", "Service", releaseNamespace, "hdscale-webhook-metrics"},
		{"v1", "Service", releaseNamespace, "hdscale-scheduler-metrics"},
		{"networking.k8s.io/v1", "NetworkPolicy", releaseNamespace, "hdscale-webhook"},
		{"networking.k8s.io/v1", "NetworkPolicy", releaseNamespace, "hdscale-scheduler"},
	} {
		mustGet(t, o, k)
	}
	expect(t, "ServiceMonitor labels.release", at(o[objKey{"monitoring.coreos.com/v1", "ServiceMonitor", releaseNamespace, "hdscale"}], "metadata", "labels", "release"), "prom")

	wd := mustGet(t, o, webhookDeploy)
	pod := at(wd, "spec", "template", "spec")
	expect(t, "webhook replicas", at(wd, "spec", "replicas"), 3)
	expect(t, "webhook image", at(pod, "containers", 0, "image"), "registry.example.com/mirror/hdscale/hdscale:v9.9.9")
	expect(t, "webhook pullPolicy", at(pod, "containers", 0, "imagePullPolicy"), "Always")
	expect(t, "webhook resources", at(pod, "containers", 0, "resources"), map[string]any{
		"requests": map[string]any{"cpu": "50m", "memory": "64Mi"}, "limits": map[string]any{"cpu": "500m", "memory": "1Gi"}})
	cmd := strs(at(pod, "containers", 0, "command"))
	for _, f := range []string{"--log-level=debug", "--log-development"} {
		if !slices.Contains(cmd, f) {
			t.Errorf("webhook command %v lacks %s", cmd, f)
		}
	}
	expect(t, "webhook priorityClassName", at(pod, "priorityClassName"), "mycorp-high")
	expect(t, "webhook imagePullSecrets", at(pod, "imagePullSecrets"), []any{map[string]any{"name": "regcred"}})
	expect(t, "webhook nodeSelector", at(pod, "nodeSelector"), map[string]any{"node-role.kubernetes.io/infra": ""})
	expect(t, "webhook tolerations", at(pod, "tolerations", 0, "key"), "infra")
	expect(t, "webhook affinity", at(pod, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", 0, "matchExpressions", 0, "key"), "zone")
	expect(t, "webhook topologySpreadConstraints", at(pod, "topologySpreadConstraints"), []any{map[string]any{
		"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
		"labelSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "hdscale", "app.kubernetes.io/component": "webhook"}},
	}})
	expect(t, "webhook PDB minAvailable", at(mustGet(t, o, objKey{"policy/v1", "PodDisruptionBudget", releaseNamespace, "hdscale-webhook"}), "spec", "minAvailable"), 2)

	sd := mustGet(t, o, schedulerDeploy)
	spod := at(sd, "spec", "template", "spec")
	expect(t, "scheduler replicas", at(sd, "spec", "replicas"), 3)
	expect(t, "scheduler topologySpreadConstraints", at(spod, "topologySpreadConstraints"), nil)
	expect(t, "extender image", at(spod, "containers", 0, "image"), "registry.example.com/mirror/hdscale/hdscale:v9.9.9")
	if c := strs(at(spod, "containers", 0, "command")); !slices.Contains(c, "--log-level=debug") {
		t.Errorf("extender command %v lacks --log-level=debug", c)
	}
	expect(t, "kube-scheduler image (tag from the cluster version)", at(spod, "containers", 1, "image"), "registry.k8s.io/kube-scheduler:"+kubeVersion)
	sc := strs(at(spod, "containers", 1, "command"))
	if sc[0] != "/usr/local/bin/kube-scheduler" || !slices.Contains(sc, "--v=4") {
		t.Errorf("kube-scheduler command %v: want /usr/local/bin/kube-scheduler ... --v=4", sc)
	}

	// Webhook configurations.
	mwc := mustGet(t, o, mwcKey)
	hooks := at(mwc, "webhooks").([]any)
	byName := map[string]any{}
	for _, h := range hooks {
		byName[str(at(h, "name"))] = h
	}
	expect(t, "pods.hdscale.io failurePolicy", at(byName["pods.hdscale.io"], "failurePolicy"), "Ignore")
	expect(t, "audit-pods.hdscale.io failurePolicy", at(byName["audit-pods.hdscale.io"], "failurePolicy"), "Ignore")
	expect(t, "deployments.hdscale.io failurePolicy", at(byName["deployments.hdscale.io"], "failurePolicy"), "Ignore")
	for name, h := range byName {
		expect(t, name+" timeoutSeconds", at(h, "timeoutSeconds"), 10)
		expect(t, name+" excluded namespaces", at(h, "namespaceSelector", "matchExpressions", 1), map[string]any{
			"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": []any{"kube-system", "monitoring", releaseNamespace}})
		expect(t, name+" service namespace", at(h, "clientConfig", "service", "namespace"), releaseNamespace)
	}
	expect(t, "namespaces.hdscale.io timeoutSeconds", at(mustGet(t, o, vwcKey), "webhooks", 0, "timeoutSeconds"), 10)
	if !reflect.DeepEqual(at(byName["pods.hdscale.io"], "matchConditions"), at(byName["audit-pods.hdscale.io"], "matchConditions")) {
		t.Error("pods.hdscale.io and audit-pods.hdscale.io carry different matchConditions")
	}

	// The runtime rules: the ConfigMap parses with the webhook's own parser.
	cfg := parseRenderedConfig(t, o)
	expect(t, "config runtime.images", cfg.Runtime.Images, []string{"mycorp/hd-runtime"})
	expect(t, "config podLabels", cfg.PodLabels, map[string]string{"mycorp.io/role": "runtime"})
	expect(t, "config notRuntime.images (default kept)", cfg.NotRuntime.Images, []string{"hetida/designer-backend"})
	expect(t, "config pools", cfg.DeclaredCPU(), map[string]int64{"runtime": 7910})
	sched := at(mustGet(t, o, objKey{"v1", "ConfigMap", releaseNamespace, "hdscale-scheduler-config"}), "data", "config.yaml").(string)
	if !strings.Contains(sched, "resourceNamespace: "+releaseNamespace) {
		t.Errorf("scheduler config lacks the lease namespace:\n%s", sched)
	}
}

func parseRenderedConfig(t *testing.T, o objects) webhook.Config {
	t.Helper()
	data, _ := at(mustGet(t, o, webhookConfig), "data", "webhook.yaml").(string)
	cfg, err := webhook.ParseConfig([]byte(data))
	if err != nil {
		t.Fatalf("the rendered webhook.yaml does not parse with webhook.ParseConfig: %v\n%s", err, data)
	}
	return cfg
}

// celPrograms compiles the matchConditions of the webhook entry name with
// the Kubernetes CEL environment (as the API server does).
func celPrograms(t *testing.T, o objects, name string) []cel.Program {
	t.Helper()
	env, err := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()).Env(environment.StoredExpressions)
	if err != nil {
		t.Fatal(err)
	}
	env, err = env.Extend(cel.Variable("object", cel.DynType), cel.Variable("oldObject", cel.DynType))
	if err != nil {
		t.Fatal(err)
	}
	var progs []cel.Program
	for _, h := range at(mustGet(t, o, mwcKey), "webhooks").([]any) {
		if str(at(h, "name")) != name {
			continue
		}
		for _, mc := range at(h, "matchConditions").([]any) {
			ast, iss := env.Compile(str(at(mc, "expression")))
			if iss.Err() != nil {
				t.Fatalf("%s: matchCondition %s does not compile: %v", name, str(at(mc, "name")), iss.Err())
			}
			if ast.OutputType() != cel.BoolType {
				t.Fatalf("%s: matchCondition %s is not a bool", name, str(at(mc, "name")))
			}
			prg, err := env.Program(ast)
			if err != nil {
				t.Fatal(err)
			}
			progs = append(progs, prg)
		}
	}
	if len(progs) == 0 {
		t.Fatalf("no matchConditions for %s", name)
	}
	return progs
}

// admits evaluates programs on obj as the API server would (typed object
// converted to unstructured): whether all hold.
func admits(t *testing.T, progs []cel.Program, obj any) bool {
	t.Helper()
	var u map[string]any
	if err := roundTrip(obj, &u); err != nil {
		t.Fatal(err)
	}
	for _, p := range progs {
		v, _, err := p.Eval(map[string]any{"object": u, "oldObject": nil})
		if err != nil {
			t.Fatalf("matchCondition fails to evaluate on %v: %v", u, err)
		}
		if b, ok := v.Value().(bool); !ok || !b {
			return false
		}
	}
	return true
}

// TestChartRuntimeRulesAgree: with custom runtime rules, the rendered CEL
// matchConditions send the webhook every pod (and Deployment) the rendered
// ConfigMap classifies as runtime, and not the others.
func TestChartRuntimeRulesAgree(t *testing.T) {
	t.Parallel()
	o := mustRender(t, customValues()).objects
	m := webhook.NewMatcher(parseRenderedConfig(t, o))
	pods := celPrograms(t, o, "pods.hdscale.io")
	deploys := celPrograms(t, o, "deployments.hdscale.io")
	mk := func(image string, env []corev1.EnvVar, labels map[string]string) corev1.Pod {
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image, Env: env}}},
		}
	}
	for _, c := range []struct {
		name    string
		pod     corev1.Pod
		runtime bool
	}{
		{"custom image", mk("registry.example.com/mycorp/hd-runtime:1.2", nil, nil), true},
		{"custom env", mk("python:3", []corev1.EnvVar{{Name: "MY_RUNTIME", Value: " YES "}}, nil), true},
		{"custom env, value with a quote", mk("python:3", []corev1.EnvVar{{Name: "MY_RUNTIME", Value: "It's"}}, nil), true},
		{"custom env, other value", mk("python:3", []corev1.EnvVar{{Name: "MY_RUNTIME", Value: "no"}}, nil), false},
		{"custom label", mk("python:3", nil, map[string]string{"mycorp.io/role": "runtime"}), true},
		{"default image no longer a rule", mk("hetida/designer-runtime:0.9", nil, nil), false},
		{"default labels no longer a rule", mk("python:3", nil, map[string]string{"app.kubernetes.io/name": "hetida-designer", "app.kubernetes.io/component": "runtime"}), false},
		{"plain pod", mk("nginx", nil, nil), false},
	} {
		got := m.Match(&c.pod).Runtime
		if got != c.runtime {
			t.Errorf("%s: webhook matcher says runtime=%v, want %v", c.name, got, c.runtime)
		}
		if ok := admits(t, pods, c.pod); ok != c.runtime {
			t.Errorf("%s: pod matchConditions admit=%v, want %v", c.name, ok, c.runtime)
		}
		d := appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{ObjectMeta: c.pod.ObjectMeta, Spec: c.pod.Spec}}}
		if ok := admits(t, deploys, d); ok != c.runtime {
			t.Errorf("%s: Deployment matchConditions admit=%v, want %v", c.name, ok, c.runtime)
		}
	}
	mirror := mk("mycorp/hd-runtime", nil, nil)
	mirror.Annotations = map[string]string{"kubernetes.io/config.mirror": "x"}
	if admits(t, pods, mirror) {
		t.Error("a mirror pod passes the matchConditions")
	}
	// Only the labels rule left: the conditions still compile and agree.
	v := customValues()
	v["runtimeRules"].(map[string]any)["runtime"] = map[string]any{"images": []any{}, "env": []any{}}
	o = mustRender(t, v).objects
	pods = celPrograms(t, o, "pods.hdscale.io")
	if !admits(t, pods, mk("x", nil, map[string]string{"mycorp.io/role": "runtime"})) || admits(t, pods, mk("mycorp/hd-runtime", nil, nil)) {
		t.Error("labels-only rules: matchConditions disagree with the rules")
	}
	celPrograms(t, o, "deployments.hdscale.io")
}

// TestChartRejectsBadValues: a bad value is a clear `helm install` /
// `helm template` error, from values.schema.json or the templates.
func TestChartRejectsBadValues(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		values map[string]any
		want   []string
	}{
		{"replicas not a number", map[string]any{"webhook": map[string]any{"replicas": "two"}},
			[]string{"/webhook/replicas", "got string, want integer"}},
		{"unknown failurePolicy", map[string]any{"webhook": map[string]any{"failurePolicy": "Sometimes"}},
			[]string{"/webhook/failurePolicy", "'Fail'", "'Ignore'"}},
		{"timeout too long", map[string]any{"webhook": map[string]any{"timeoutSeconds": 60}},
			[]string{"/webhook/timeoutSeconds", "30"}},
		{"misspelt key", map[string]any{"scheduler": map[string]any{"replica": 3}},
			[]string{"/scheduler", "replica"}},
		{"bad log level", map[string]any{"scheduler": map[string]any{"extender": map[string]any{"logLevel": "loud"}}},
			[]string{"/scheduler/extender/logLevel"}},
		{"image with a tag in the runtime rules", map[string]any{"runtimeRules": map[string]any{"runtime": map[string]any{"images": []any{"hetida/designer-runtime:1.0"}}}},
			[]string{"/runtimeRules/runtime/images/0"}},
		{"env rule without values", map[string]any{"runtimeRules": map[string]any{"runtime": map[string]any{"env": []any{map[string]any{"name": "X", "values": []any{}}}}}},
			[]string{"/runtimeRules/runtime/env/0/values"}},
		{"bad minAvailable", map[string]any{"webhook": map[string]any{"podDisruptionBudget": map[string]any{"minAvailable": "half"}}},
			[]string{"/webhook/podDisruptionBudget/minAvailable"}},
		{"PDB blocking every drain", map[string]any{"webhook": map[string]any{"replicas": 1}},
			[]string{"webhook.podDisruptionBudget.minAvailable (1) must be below webhook.replicas (1)"}},
		{"creating a built-in priority class", map[string]any{"priorityClassName": "system-cluster-critical"},
			[]string{"set priorityClass.create=false"}},
		{"no runtime rule left", map[string]any{"runtimeRules": map[string]any{
			"runtime": map[string]any{"images": []any{}, "env": []any{}}, "podLabels": map[string]any{"app.kubernetes.io/name": nil, "app.kubernetes.io/component": nil}}},
			[]string{"runtime.images, runtime.env and podLabels are all empty"}},
	} {
		_, err := renderChart(c.values)
		if err == nil {
			t.Errorf("%s: rendered without error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q:\n%v", c.name, w, err)
			}
		}
		t.Logf("%s: %v", c.name, err)
	}
}

// The defaults: the NOTES name the next steps; the kube-scheduler tag
// follows the cluster when left empty.
func TestChartNotesAndSchedulerTag(t *testing.T) {
	t.Parallel()
	r := mustRender(t, nil)
	for _, want := range []string{
		"kubectl label namespace <ns> hdscale.io/pattern=per-node",
		"kubectl get mutatingwebhookconfiguration hdscale -o jsonpath='{.webhooks[0].clientConfig.caBundle}'",
		"kubectl -n " + releaseNamespace + " rollout status deploy/hdscale-webhook",
	} {
		if !strings.Contains(r.notes, want) {
			t.Errorf("NOTES.txt lacks %q:\n%s", want, r.notes)
		}
	}
	if strings.Contains(r.notes, "WARNING") {
		t.Errorf("NOTES.txt warns with the defaults:\n%s", r.notes)
	}
	old, err := renderChartAt(map[string]any{}, "v1.35.4-gke.1200")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(old.notes, "WARNING: kube-scheduler v1.37.2 is not of the cluster's minor version") {
		t.Errorf("no version warning for a 1.35 cluster:\n%s", old.notes)
	}
	follow, err := renderChartAt(map[string]any{"scheduler": map[string]any{"kubeScheduler": map[string]any{"image": map[string]any{"tag": ""}}}}, "v1.35.4-gke.1200")
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "kube-scheduler image on a 1.35 cluster", at(follow.objects[schedulerDeploy], "spec", "template", "spec", "containers", 1, "image"), "hdscale/kube-scheduler:v1.35.4")
	if strings.Contains(follow.notes, "WARNING") {
		t.Errorf("warning although the tag follows the cluster:\n%s", follow.notes)
	}
}
