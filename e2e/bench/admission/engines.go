package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/webhook"
)

// The policy engines (variants kyverno and gatekeeper): the engines
// themselves run as e2e/bench/engines/*.yaml describe (bench-webhook.sh
// installs them); this file writes their policies, doing hdscale's per-core
// mutation of runtime pods in fill mode like the MutatingAdmissionPolicy
// (policy.go) with the same constants (mapSizing), and aligns their webhook
// settings with hdscale's pod webhook.

// engine is one policy engine's deployment.
type engine struct {
	variant    string
	title      string
	namespace  string // where its pods run
	deployment string
	selector   string // of its pods
	// metricsPort serves Prometheus text over plain HTTP, including the Go
	// client's process_cpu_seconds_total (the CPU reading of every webhook).
	metricsPort string
}

var engines = []engine{
	{variant: "kyverno", title: "Kyverno", namespace: "hdscale-bench-kyverno-system", deployment: "kyverno-admission-controller",
		selector: "app.kubernetes.io/name=kyverno-admission-controller", metricsPort: "8000"},
	{variant: "gatekeeper", title: "Gatekeeper", namespace: "hdscale-bench-gatekeeper-system", deployment: "gatekeeper-controller-manager",
		selector: "app.kubernetes.io/name=gatekeeper-mutation", metricsPort: "8888"},
}

const (
	kyvernoPolicyName = "hdscale-bench-kyverno"
	// gatekeeperWebhookName is the MutatingWebhookConfiguration of
	// e2e/bench/engines/gatekeeper.yaml (Gatekeeper injects its CA there).
	gatekeeperWebhookName = "gatekeeper-mutating-webhook-configuration"
	benchFieldManager     = "hdscale-bench-admission"
)

var (
	clusterPolicyGVR  = schema.GroupVersionResource{Group: "kyverno.io", Version: "v1", Resource: "clusterpolicies"}
	assignGVR         = schema.GroupVersionResource{Group: "mutations.gatekeeper.sh", Version: "v1", Resource: "assign"}
	assignMetadataGVR = schema.GroupVersionResource{Group: "mutations.gatekeeper.sh", Version: "v1", Resource: "assignmetadata"}
)

func engineOf(v string) (engine, bool) {
	for _, e := range engines {
		if e.variant == v {
			return e, true
		}
	}
	return engine{}, false
}

func usesEngine(vs []string) bool {
	for _, v := range vs {
		if _, ok := engineOf(v); ok {
			return true
		}
	}
	return false
}

// webhookSettings are hdscale's pod webhook's (what every engine copies).
type webhookSettings struct {
	failurePolicy   string
	timeoutSeconds  int32
	matchConditions []admissionregistrationv1.MatchCondition
}

func (s *setup) webhookSettings() webhookSettings {
	w := webhookSettings{failurePolicy: "Fail", timeoutSeconds: 5, matchConditions: s.matchConditions()}
	if h := s.hdscaleHook; h != nil {
		if h.FailurePolicy != nil {
			w.failurePolicy = string(*h.FailurePolicy)
		}
		if h.TimeoutSeconds != nil {
			w.timeoutSeconds = *h.TimeoutSeconds
		}
	}
	return w
}

// runtimeContainerPrecondition picks a runtime container in Kyverno's
// foreach the way the MutatingAdmissionPolicy does: image containing
// designer-runtime, or HD_IS_BACKEND_SERVICE set to a false value.
var runtimeContainerPrecondition = map[string]any{"any": []any{
	map[string]any{"key": "{{ element.image }}", "operator": "Equals", "value": "*designer-runtime*"},
	map[string]any{"key": "{{ element.env[?name=='HD_IS_BACKEND_SERVICE'].value || `[]` }}", "operator": "AnyIn",
		"value": []any{"false", "0", "f", "n", "no", "off"}},
}}

// forContainer is one foreach entry over the pod's containers: for each
// runtime container where cond holds, merge patch into it. (Each field
// has its own entry with a precondition instead of add anchors "+(...)"
// in one patch: Kyverno v1.19.1 panics on anchors in env list elements,
// slice bounds out of range in deleteListElement.)
func forContainer(cond map[string]any, patch map[string]any) map[string]any {
	c := map[string]any{"name": "{{ element.name }}"}
	for k, v := range patch {
		c[k] = v
	}
	return map[string]any{
		"list":                "request.object.spec.containers",
		"preconditions":       map[string]any{"any": runtimeContainerPrecondition["any"], "all": []any{cond}},
		"patchStrategicMerge": map[string]any{"spec": map[string]any{"containers": []any{c}}},
	}
}

// missing: the JMESPath field of the element is unset.
func missing(field string) map[string]any {
	return map[string]any{"key": "{{ " + field + " || '' }}", "operator": "Equals", "value": ""}
}

// noEnv: the element has no env var name.
func noEnv(name string) map[string]any {
	return map[string]any{"key": "{{ length(element.env[?name=='" + name + "'] || `[]`) }}", "operator": "Equals", "value": 0}
}

// kyvernoPolicy is the ClusterPolicy doing hdscale's per-core mutation in
// namespace ns: per runtime container (foreach) CPU request and limit and
// WEB_CONCURRENCY and MAX_WORKERS where unset; the pool
// toleration where the pod has none for the pool; the pool node selector
// where unset; schedulerName where it is the default; the hdscale.io/policy
// annotation. Its webhookConfiguration carries hdscale's failurePolicy,
// timeoutSeconds and matchConditions (Kyverno then registers a webhook of
// its own for this policy).
func kyvernoPolicy(ns string, w webhookSettings, sz sizing) *unstructured.Unstructured {
	match := map[string]any{"any": []any{map[string]any{"resources": map[string]any{
		"kinds": []any{"Pod"}, "operations": []any{"CREATE"}, "namespaces": []any{ns}}}}}
	conds := make([]any, 0, len(w.matchConditions))
	for _, c := range w.matchConditions {
		conds = append(conds, map[string]any{"name": c.Name, "expression": c.Expression})
	}
	toleration := map[string]any{"key": policy.NodePoolKey, "operator": "Equal", "value": "runtime", "effect": "NoSchedule"}
	noPoolToleration := map[string]any{"key": "{{ length(request.object.spec.tolerations[?key=='" + policy.NodePoolKey + "'] || `[]`) }}",
		"operator": "Equals", "value": 0}
	rule := func(name string, mutate map[string]any, pre ...any) map[string]any {
		r := map[string]any{"name": name, "match": match, "mutate": mutate}
		if len(pre) > 0 {
			r["preconditions"] = map[string]any{"all": pre}
		}
		return r
	}
	rules := []any{
		rule("runtime-containers", map[string]any{"foreach": []any{
			forContainer(missing("element.resources.requests.cpu"), map[string]any{"resources": map[string]any{"requests": map[string]any{"cpu": sz.cpu}}}),
			forContainer(missing("element.resources.limits.cpu"), map[string]any{"resources": map[string]any{"limits": map[string]any{"cpu": sz.cpu}}}),
			forContainer(noEnv("WEB_CONCURRENCY"), map[string]any{"env": []any{map[string]any{"name": "WEB_CONCURRENCY", "value": sz.workers}}}),
			forContainer(noEnv("MAX_WORKERS"), map[string]any{"env": []any{map[string]any{"name": "MAX_WORKERS", "value": sz.workers}}}),
		}}),
		rule("pool-toleration-append", map[string]any{"patchesJson6902": jsonPatchYAML("add", "/spec/tolerations/-", toleration)},
			noPoolToleration, map[string]any{"key": "{{ length(request.object.spec.tolerations || `[]`) }}", "operator": "GreaterThan", "value": 0}),
		rule("pool-toleration-new", map[string]any{"patchesJson6902": jsonPatchYAML("add", "/spec/tolerations", []any{toleration})},
			map[string]any{"key": "{{ length(request.object.spec.tolerations || `[]`) }}", "operator": "Equals", "value": 0}),
		rule("placement", map[string]any{"patchStrategicMerge": map[string]any{
			"metadata": map[string]any{"annotations": stringMap(sz.annotations)},
			"spec":     map[string]any{"nodeSelector": map[string]any{"+(" + policy.NodePoolKey + ")": "runtime"}},
		}}),
		rule("scheduler", map[string]any{"patchesJson6902": jsonPatchYAML("replace", "/spec/schedulerName", webhook.DefaultSchedulerName)},
			map[string]any{"key": "{{ request.object.spec.schedulerName || '' }}", "operator": "AnyIn", "value": []any{"", "default-scheduler"}}),
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
		"metadata": map[string]any{"name": kyvernoPolicyName, "labels": map[string]any{benchLabel: benchValue}},
		"spec": map[string]any{
			"admission":  true,
			"background": false,
			"webhookConfiguration": map[string]any{
				"failurePolicy":   w.failurePolicy,
				"timeoutSeconds":  int64(w.timeoutSeconds),
				"matchConditions": conds,
			},
			"rules": rules,
		},
	}}
}

// jsonPatchYAML is a one-operation RFC 6902 patch as Kyverno's
// patchesJson6902 takes it (a YAML or JSON string).
func jsonPatchYAML(op, path string, value any) string {
	b, err := json.Marshal([]any{map[string]any{"op": op, "path": path, "value": value}})
	if err != nil {
		panic(err) // plain maps, slices and strings always marshal
	}
	return string(b)
}

// gatekeeperMutators are the Assign and AssignMetadata mutators doing
// hdscale's per-core mutation in namespace ns. Gatekeeper's paths select
// list elements by a key field only (name, key), never by image, so the
// runtime containers are named: those hdscale's matcher finds in the bench
// pod (sz.containers). pathTests keep the pod's own values (fill
// mode) and keep Gatekeeper from creating a container that is not there;
// a value cannot be tested, so schedulerName is set whatever it was.
func gatekeeperMutators(ns string, sz sizing) []*unstructured.Unstructured {
	match := map[string]any{
		"scope":      "Namespaced",
		"kinds":      []any{map[string]any{"apiGroups": []any{""}, "kinds": []any{"Pod"}}},
		"namespaces": []any{ns},
	}
	applyTo := []any{map[string]any{"groups": []any{""}, "kinds": []any{"Pod"}, "versions": []any{"v1"}}}
	absent := func(path string) map[string]any { return map[string]any{"subPath": path, "condition": "MustNotExist"} }
	present := func(path string) map[string]any { return map[string]any{"subPath": path, "condition": "MustExist"} }
	assign := func(name, location string, value any, params map[string]any) *unstructured.Unstructured {
		p := map[string]any{"assign": map[string]any{"value": value}}
		for k, v := range params {
			p[k] = v
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "mutations.gatekeeper.sh/v1", "kind": "Assign",
			"metadata": map[string]any{"name": name, "labels": map[string]any{benchLabel: benchValue}},
			"spec":     map[string]any{"applyTo": applyTo, "match": match, "location": location, "parameters": p},
		}}
	}
	pool := `"` + policy.NodePoolKey + `"`
	out := []*unstructured.Unstructured{
		assign("hdscale-bench-pool-toleration", "spec.tolerations[key: "+pool+"]",
			map[string]any{"key": policy.NodePoolKey, "operator": "Equal", "value": "runtime", "effect": "NoSchedule"},
			map[string]any{"pathTests": []any{absent("spec.tolerations[key: " + pool + "]")}}),
		assign("hdscale-bench-pool-node-selector", "spec.nodeSelector."+pool, "runtime",
			map[string]any{"pathTests": []any{absent("spec.nodeSelector." + pool)}}),
		// Unconditional: Assign cannot test a value (hdscale and the other
		// variants replace only the default scheduler; the bench pod has it).
		assign("hdscale-bench-scheduler", "spec.schedulerName", webhook.DefaultSchedulerName, nil),
	}
	for _, c := range sz.containers {
		sel := fmt.Sprintf("spec.containers[name: %q]", c)
		id := "hdscale-bench-" + dnsLabel(c)
		for _, f := range []struct{ suffix, path string }{{"cpu-request", ".resources.requests.cpu"}, {"cpu-limit", ".resources.limits.cpu"}} {
			out = append(out, assign(id+"-"+f.suffix, sel+f.path, sz.cpu,
				map[string]any{"pathTests": []any{present(sel), absent(sel + f.path)}}))
		}
		for _, env := range []string{"WEB_CONCURRENCY", "MAX_WORKERS"} {
			loc := sel + ".env[name: " + env + "]"
			out = append(out, assign(id+"-"+dnsLabel(env), loc, map[string]any{"name": env, "value": sz.workers},
				map[string]any{"pathTests": []any{present(sel), absent(loc)}}))
		}
	}
	for _, k := range sortedKeys(sz.annotations) {
		out = append(out, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "mutations.gatekeeper.sh/v1", "kind": "AssignMetadata",
			"metadata": map[string]any{"name": "hdscale-bench-annotation-" + dnsLabel(strings.TrimPrefix(k, policy.Prefix)),
				"labels": map[string]any{benchLabel: benchValue}},
			"spec": map[string]any{"match": match, "location": `metadata.annotations."` + k + `"`,
				"parameters": map[string]any{"assign": map[string]any{"value": sz.annotations[k]}}},
		}})
	}
	return out
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// referenceAnnotations dry-run creates the bench pod in hdscale's
// namespace and returns the hdscale.io/ annotations hdscale's webhook
// wrote: the engines write them as constants (a policy engine cannot size
// from the pool's nodes, nor list what it kept).
func (s *setup) referenceAnnotations(ctx context.Context) (map[string]string, error) {
	p := s.pod.DeepCopy()
	p.Namespace = variantNamespaces["hdscale"]
	var out map[string]string
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := s.client.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if lastErr = err; err != nil {
			return false, nil
		}
		out = map[string]string{}
		for k, v := range got.Annotations {
			if strings.HasPrefix(k, policy.Prefix) {
				out[k] = v
			}
		}
		return out[policy.AnnotationPolicy] != "", nil
	})
	if err != nil {
		return nil, fmt.Errorf("hdscale's answer for the bench pod (last error %v): %w", lastErr, err)
	}
	return out, nil
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// dnsLabel turns s into a piece of an object name.
func dnsLabel(s string) string {
	return strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// applyEngines writes the selected engines' policies (after checking that
// the engines run) and aligns Gatekeeper's webhook with hdscale's.
func (s *setup) applyEngines(ctx context.Context) error {
	if has(s.opts.variants, "hdscale") {
		a, err := s.referenceAnnotations(ctx)
		if err != nil {
			return err
		}
		mapSizing.annotations = a
	}
	for _, v := range s.opts.variants {
		e, ok := engineOf(v)
		if !ok {
			continue
		}
		d, err := s.client.AppsV1().Deployments(e.namespace).Get(ctx, e.deployment, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("%s (variant %s) is not installed (bench-webhook.sh installs e2e/bench/engines/%s.yaml): %w", e.title, v, v, err)
		}
		if d.Status.ReadyReplicas < 1 {
			return fmt.Errorf("%s's Deployment %s/%s has no ready replica", e.title, e.namespace, e.deployment)
		}
		var objs []*unstructured.Unstructured
		var gvrs []schema.GroupVersionResource
		switch v {
		case "kyverno":
			objs, gvrs = []*unstructured.Unstructured{kyvernoPolicy(variantNamespaces[v], s.webhookSettings(), mapSizing)}, []schema.GroupVersionResource{clusterPolicyGVR}
		case "gatekeeper":
			if err := s.alignGatekeeperWebhook(ctx); err != nil {
				return err
			}
			for _, o := range gatekeeperMutators(variantNamespaces[v], mapSizing) {
				gvr := assignGVR
				if o.GetKind() == "AssignMetadata" {
					gvr = assignMetadataGVR
				}
				objs, gvrs = append(objs, o), append(gvrs, gvr)
			}
		}
		for i, o := range objs {
			if _, err := s.dynamic.Resource(gvrs[i]).Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: benchFieldManager, Force: true}); err != nil {
				return fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
			}
		}
	}
	return nil
}

// alignGatekeeperWebhook gives Gatekeeper's webhook hdscale's failurePolicy,
// timeoutSeconds and matchConditions (its caBundle, injected by
// Gatekeeper, stays), and waits for the caBundle.
func (s *setup) alignGatekeeperWebhook(ctx context.Context) error {
	api := s.client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	w := s.webhookSettings()
	fp := admissionregistrationv1.FailurePolicyType(w.failurePolicy)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		mwc, err := api.Get(ctx, gatekeeperWebhookName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for i := range mwc.Webhooks {
			h := &mwc.Webhooks[i]
			h.FailurePolicy, h.TimeoutSeconds = &fp, ptr(w.timeoutSeconds)
			h.MatchConditions = append([]admissionregistrationv1.MatchCondition(nil), w.matchConditions...)
		}
		_, err = api.Update(ctx, mwc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("MutatingWebhookConfiguration %s: %w", gatekeeperWebhookName, err)
	}
	return wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		mwc, err := api.Get(ctx, gatekeeperWebhookName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, h := range mwc.Webhooks {
			if len(h.ClientConfig.CABundle) == 0 {
				return false, nil
			}
		}
		return true, nil
	})
}

// teardownEngines removes the policies this program wrote (the engines
// stay: bench-webhook.sh removes them); an engine whose CRDs are gone has
// nothing left.
func (s *setup) teardownEngines(ctx context.Context, note func(string, error)) {
	if s.dynamic == nil {
		return
	}
	sel := metav1.ListOptions{LabelSelector: benchLabel + "=" + benchValue}
	for _, gvr := range []schema.GroupVersionResource{clusterPolicyGVR, assignGVR, assignMetadataGVR} {
		list, err := s.dynamic.Resource(gvr).List(ctx, sel)
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			note(gvr.Resource, err)
			continue
		}
		for _, o := range list.Items {
			note(gvr.Resource+" "+o.GetName(), s.dynamic.Resource(gvr).Delete(ctx, o.GetName(), metav1.DeleteOptions{}))
		}
	}
}
