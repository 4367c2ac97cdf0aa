//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// TestPatterns checks what the webhook does to pods: the injected fields per
// pattern (dry-run and real Deployments whose containers report their env),
// the pods it must leave alone, conflict and audit modes, and the validation
// of namespace labels.
func TestPatterns(t *testing.T) {
	g := group(t)
	nodes := poolNodes(t, poolName)
	t.Logf("pool %s: %s", poolName, describeNodes(nodes))

	replicas := map[policy.Pattern]int32{policy.PerNode: 2, policy.PerNodeSingle: 1, policy.PerCore: 2}
	for _, p := range policy.Patterns {
		g.step(t, string(p), func(t *testing.T) { testPattern(t, p, replicas[p], nodes) })
	}

	g.step(t, "overrides cpu and workers-per-core", func(t *testing.T) {
		for _, labels := range []map[string]string{
			patternLabels(policy.PerNode, policy.LabelWorkersPerCore, "2"),
			patternLabels(policy.PerCore, policy.LabelCPU, "500m"),
			patternLabels(policy.PerNode, policy.LabelCPU, "1500m"),
		} {
			ns := newNamespace(t, "override", labels, nsOptions{})
			e, err := expectFor(labels, nodes)
			if err != nil {
				t.Fatal(err)
			}
			got := mustDryRunCreate(t, suite.client, podFrom(ns, "rt", runtimeTemplate("rt")))
			if probs := mutationProblems(got, e); len(probs) > 0 {
				t.Errorf("labels %v (%s):\n  %s", labels, e, strings.Join(probs, "\n  "))
			}
		}
	})

	g.step(t, "dry-run create returns the injected fields and stores nothing", func(t *testing.T) {
		labels := patternLabels(policy.PerNode)
		ns := newNamespace(t, "dryrun", labels, nsOptions{})
		e, err := expectFor(labels, nodes)
		if err != nil {
			t.Fatal(err)
		}
		got := mustDryRunCreate(t, suite.client, podFrom(ns, "rt", runtimeTemplate("rt")))
		if probs := mutationProblems(got, e); len(probs) > 0 {
			t.Errorf("dry-run pod (%s):\n  %s", e, strings.Join(probs, "\n  "))
		}
		ctx, cancel := callContext(t)
		defer cancel()
		if _, err := getPod(ctx, ns, "rt"); !apierrors.IsNotFound(err) {
			t.Errorf("a dry-run pod was stored (get: %v)", err)
		}
	})

	g.step(t, "label-matched pod (other image, chart labels) is mutated", func(t *testing.T) {
		labels := patternLabels(policy.PerCore)
		ns := newNamespace(t, "labels", labels, nsOptions{})
		e, err := expectFor(labels, nodes)
		if err != nil {
			t.Fatal(err)
		}
		got := mustDryRunCreate(t, suite.client, podFrom(ns, "rt", labelMatchedTemplate("rt")))
		if probs := mutationProblems(got, e); len(probs) > 0 {
			t.Errorf("label-matched pod (%s):\n  %s", e, strings.Join(probs, "\n  "))
		}
	})

	g.step(t, "backend pods in a labelled namespace untouched", func(t *testing.T) {
		ns := newNamespace(t, "backend", patternLabels(policy.PerNode), nsOptions{waitGone: true})
		// A real backend Deployment: admitted unchanged, scheduled by the
		// default scheduler outside the pool, no injected env.
		d := deploymentOf(ns, "backend", 1, backendTemplate("backend"))
		runWorkload(t, d)
		pods := waitWorkloadReady(t, ns, "backend", 1)
		sent := podFrom(ns, pods[0].Name, backendTemplate("backend"))
		if probs := untouchedProblems(&pods[0], sent); len(probs) > 0 {
			t.Errorf("backend pod %s was changed:\n  %s", pods[0].Name, strings.Join(probs, "\n  "))
		}
		ctx, cancel := callContext(t)
		defer cancel()
		if pool, err := isPoolNode(ctx, pods[0].Spec.NodeName, poolName); err != nil || pool {
			t.Errorf("backend pod runs on %s (pool node: %v, %v)", pods[0].Spec.NodeName, pool, err)
		}
		env, err := getRuntimeEnv(ctx, &pods[0])
		if err != nil {
			t.Fatal(err)
		}
		if env.Env["WEB_CONCURRENCY"] != nil || env.Env["MAX_WORKERS"] != nil {
			t.Errorf("backend container sees WEB_CONCURRENCY=%s MAX_WORKERS=%s, want both unset", strp(env.Env["WEB_CONCURRENCY"]), strp(env.Env["MAX_WORKERS"]))
		}
		// The backend variant of the runtime image (HD_IS_RUNTIME_SERVICE=false)
		// with the runtime's chart labels: still not a runtime.
		tmpl := podTemplate("be2", suite.images.FakeRuntimeAsHetida,
			map[string]string{labelAppName: hetidaName, labelAppComponent: "runtime"},
			envVar("HD_IS_RUNTIME_SERVICE", "false"))
		sent = podFrom(ns, "be2", tmpl)
		got := mustDryRunCreate(t, suite.client, sent)
		if probs := untouchedProblems(got, sent); len(probs) > 0 {
			t.Errorf("pod with HD_IS_RUNTIME_SERVICE=false was changed:\n  %s", strings.Join(probs, "\n  "))
		}
	})

	g.step(t, "runtime pods in an unlabelled namespace untouched", func(t *testing.T) {
		ns := newNamespace(t, "plain", nil, nsOptions{})
		for _, tmpl := range []corev1.PodTemplateSpec{runtimeTemplate("rt"), labelMatchedTemplate("rt")} {
			sent := podFrom(ns, "rt", tmpl)
			got := mustDryRunCreate(t, suite.client, sent)
			if probs := untouchedProblems(got, sent); len(probs) > 0 {
				t.Errorf("runtime pod (image %s) in unlabelled namespace changed:\n  %s", tmpl.Spec.Containers[0].Image, strings.Join(probs, "\n  "))
			}
		}
	})

	g.step(t, "kube-system runtime pod (dry-run) untouched", func(t *testing.T) {
		sent := podFrom("kube-system", "hdscale-e2e-dry-run-rt", runtimeTemplate("rt"))
		got := mustDryRunCreate(t, suite.client, sent)
		if probs := untouchedProblems(got, sent); len(probs) > 0 {
			t.Errorf("kube-system pod changed:\n  %s", strings.Join(probs, "\n  "))
		}
	})

	g.step(t, "conflict fill keeps the pod's WEB_CONCURRENCY and warns", func(t *testing.T) {
		labels := patternLabels(policy.PerNode, policy.LabelConflict, string(policy.ConflictFill))
		ns := newNamespace(t, "fill", labels, nsOptions{})
		e, err := expectFor(labels, nodes)
		if err != nil {
			t.Fatal(err)
		}
		client, ws := warningClient(t)
		const own = "7"
		got := mustDryRunCreate(t, client, podFrom(ns, "rt", runtimeTemplate("rt", envVar("WEB_CONCURRENCY", own))))
		warns := ws.take()
		c := runtimeContainer(got)
		if v, _ := envValue(c, "WEB_CONCURRENCY"); v != own {
			t.Errorf("WEB_CONCURRENCY = %q, want the pod's own %q kept", v, own)
		}
		if probs := mutationProblems(got, e, "WEB_CONCURRENCY"); len(probs) > 0 {
			t.Errorf("other fields (%s):\n  %s", e, strings.Join(probs, "\n  "))
		}
		if len(warningsMention(warns, "WEB_CONCURRENCY", own)) == 0 {
			t.Errorf("no warning about the kept WEB_CONCURRENCY=%s; warnings: %q", own, warns)
		}
		if rec := got.Annotations[policy.AnnotationConflicts]; !strings.Contains(rec, "WEB_CONCURRENCY") {
			t.Errorf("annotation %s = %q, want it to list WEB_CONCURRENCY", policy.AnnotationConflicts, rec)
		}
	})

	g.step(t, "conflict enforce overwrites and warns", func(t *testing.T) {
		labels := patternLabels(policy.PerNode, policy.LabelConflict, string(policy.ConflictEnforce))
		ns := newNamespace(t, "enforce", labels, nsOptions{})
		e, err := expectFor(labels, nodes)
		if err != nil {
			t.Fatal(err)
		}
		client, ws := warningClient(t)
		tmpl := runtimeTemplate("rt", envVar("WEB_CONCURRENCY", "7"))
		tmpl.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("300m")}
		got := mustDryRunCreate(t, client, podFrom(ns, "rt", tmpl))
		warns := ws.take()
		if probs := mutationProblems(got, e); len(probs) > 0 {
			t.Errorf("enforced pod (%s):\n  %s", e, strings.Join(probs, "\n  "))
		}
		if len(warningsMention(warns, "WEB_CONCURRENCY", "7")) == 0 {
			t.Errorf("no warning about overwriting WEB_CONCURRENCY=7; warnings: %q", warns)
		}
		if len(warningsMention(warns, "cpu", "300m")) == 0 {
			t.Errorf("no warning about overwriting the CPU limit 300m; warnings: %q", warns)
		}
	})

	g.step(t, "conflict reject denies naming each field", func(t *testing.T) {
		labels := patternLabels(policy.PerNode, policy.LabelConflict, string(policy.ConflictReject))
		ns := newNamespace(t, "reject", labels, nsOptions{})
		tmpl := runtimeTemplate("rt", envVar("WEB_CONCURRENCY", "7"), envVar("MAX_WORKERS", "9"))
		tmpl.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("300m")}
		_, err := dryRunCreate(t, suite.client, podFrom(ns, "rt", tmpl))
		if err == nil {
			t.Fatal("a pod contradicting the policy was admitted under conflict=reject")
		}
		msg := err.Error()
		for _, want := range []string{"WEB_CONCURRENCY", "MAX_WORKERS", "cpu", policy.LabelConflict} {
			if !strings.Contains(msg, want) {
				t.Errorf("denial does not name %s: %s", want, msg)
			}
		}
		// A pod without conflicting fields is admitted and mutated.
		e, err := expectFor(labels, nodes)
		if err != nil {
			t.Fatal(err)
		}
		got := mustDryRunCreate(t, suite.client, podFrom(ns, "ok", runtimeTemplate("ok")))
		if probs := mutationProblems(got, e); len(probs) > 0 {
			t.Errorf("conflict-free pod under reject (%s):\n  %s", e, strings.Join(probs, "\n  "))
		}
	})

	g.step(t, "audit mode only annotates and warns", func(t *testing.T) {
		labels := patternLabels(policy.PerNode, policy.LabelMode, string(policy.ModeAudit))
		ns := newNamespace(t, "audit", labels, nsOptions{})
		client, ws := warningClient(t)
		sent := podFrom(ns, "rt", runtimeTemplate("rt"))
		got := mustDryRunCreate(t, client, sent)
		warns := ws.take()
		if probs := untouchedProblems(got, sent, policy.AnnotationAudit); len(probs) > 0 {
			t.Errorf("audit mode changed the pod:\n  %s", strings.Join(probs, "\n  "))
		}
		raw, ok := got.Annotations[policy.AnnotationAudit]
		if !ok {
			t.Fatalf("no %s annotation; annotations %v", policy.AnnotationAudit, got.Annotations)
		}
		var wc struct {
			Changes map[string]string `json:"changes"`
		}
		if err := json.Unmarshal([]byte(raw), &wc); err != nil {
			t.Errorf("%s is not JSON: %v (%q)", policy.AnnotationAudit, err, raw)
		}
		joined := fmt.Sprint(wc.Changes)
		for _, want := range []string{"schedulerName", "WEB_CONCURRENCY", "MAX_WORKERS"} {
			if !strings.Contains(joined, want) {
				t.Errorf("%s does not say it would set %s: %s", policy.AnnotationAudit, want, raw)
			}
		}
		if len(warns) == 0 {
			t.Error("audit mode returned no warnings")
		}
	})

	g.step(t, "bad namespace labels rejected naming the label and allowed values", func(t *testing.T) {
		testBadLabels(t)
	})
}

// testPattern: a dry-run pod and a real Deployment of a runtime in a
// namespace labelled with pattern p.
func testPattern(t *testing.T, p policy.Pattern, replicas int32, nodes []poolNode) {
	labels := patternLabels(p)
	ns := newNamespace(t, string(p), labels, nsOptions{waitGone: true})
	e, err := expectFor(labels, nodes)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("expect %s", e)

	got := mustDryRunCreate(t, suite.client, podFrom(ns, "dry", runtimeTemplate("dry")))
	if probs := mutationProblems(got, e); len(probs) > 0 {
		t.Errorf("dry-run pod (%s):\n  %s", e, strings.Join(probs, "\n  "))
	}

	d := deploymentOf(ns, "rt", replicas, runtimeTemplate("rt"))
	runWorkload(t, d)
	pods := waitWorkloadReady(t, ns, "rt", int(replicas))
	ctx, cancel := callContext(t)
	defer cancel()
	workers := strconv.Itoa(e.size.Workers)
	for i := range pods {
		pod := &pods[i]
		if probs := mutationProblems(pod, e); len(probs) > 0 {
			t.Errorf("pod %s (%s):\n  %s", pod.Name, e, strings.Join(probs, "\n  "))
		}
		if pool, err := isPoolNode(ctx, pod.Spec.NodeName, e.ns.Pool); err != nil || !pool {
			t.Errorf("pod %s runs on %s, not a pool node (%v)", pod.Name, pod.Spec.NodeName, err)
		}
		env, err := getRuntimeEnv(ctx, pod)
		if err != nil {
			t.Errorf("pod %s: %v", pod.Name, err)
			continue
		}
		if strp(env.Env["WEB_CONCURRENCY"]) != workers || strp(env.Env["MAX_WORKERS"]) != workers {
			t.Errorf("pod %s: the container sees WEB_CONCURRENCY=%s MAX_WORKERS=%s, want %s", pod.Name,
				strp(env.Env["WEB_CONCURRENCY"]), strp(env.Env["MAX_WORKERS"]), workers)
		}
		if env.Workers != e.size.Workers || env.WorkersSource != "WEB_CONCURRENCY" {
			t.Errorf("pod %s: the fake runtime runs %d workers (from %s), want %d from WEB_CONCURRENCY", pod.Name, env.Workers, env.WorkersSource, e.size.Workers)
		}
		t.Logf("pod %s on %s: WEB_CONCURRENCY=%s MAX_WORKERS=%s, CPU %v/%v", pod.Name, pod.Spec.NodeName,
			strp(env.Env["WEB_CONCURRENCY"]), strp(env.Env["MAX_WORKERS"]),
			runtimeContainer(pod).Resources.Requests.Cpu(), runtimeContainer(pod).Resources.Limits.Cpu())
	}
}

// testBadLabels: the validating webhook refuses bad hdscale.io/ labels on
// create and on update, naming the label and what is allowed.
func testBadLabels(t *testing.T) {
	ctx, cancel := callContext(t)
	defer cancel()
	cases := []struct {
		labels map[string]string
		want   []string // substrings of the denial
	}{
		{patternLabels("per-pod"), []string{policy.LabelPattern, "per-pod", "per-node, per-node-single, per-core"}},
		{patternLabels(policy.PerNode, policy.LabelConflict, "merge"), []string{policy.LabelConflict, "fill, enforce, reject"}},
		{patternLabels(policy.PerNode, policy.LabelMode, "dry"), []string{policy.LabelMode, "enforce, audit"}},
		{patternLabels(policy.PerCore, policy.LabelCPU, "lots"), []string{policy.LabelCPU}},
		{patternLabels(policy.PerNode, policy.LabelWorkersPerCore, "0"), []string{policy.LabelWorkersPerCore, "1 to 16"}},
		{patternLabels(policy.PerNode, "hdscale.io/patern", "per-core"), []string{"hdscale.io/patern", policy.LabelPattern}},
	}
	for _, c := range cases {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-badlabel-", Labels: map[string]string{e2eLabel: "true"}}}
		for k, v := range c.labels {
			ns.Labels[k] = v
		}
		created, err := suite.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		if err == nil {
			_ = suite.client.CoreV1().Namespaces().Delete(ctx, created.Name, metav1.DeleteOptions{})
			t.Errorf("namespace with labels %v was created; want it refused", c.labels)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("labels %v: denial does not mention %q: %v", c.labels, w, err)
			}
		}
	}

	// Update: a good namespace cannot be relabelled badly.
	name := newNamespace(t, "relabel", patternLabels(policy.PerNode), nsOptions{})
	n, err := suite.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Labels[policy.LabelPattern] = "per-pod"
	_, err = suite.client.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{})
	if err == nil {
		t.Fatal("relabelling a namespace hdscale.io/pattern=per-pod was accepted")
	}
	for _, w := range []string{policy.LabelPattern, "per-node, per-node-single, per-core"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("update denial does not mention %q: %v", w, err)
		}
	}
	n, err = suite.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels[policy.LabelPattern] != string(policy.PerNode) {
		t.Errorf("label is now %q after a refused update", n.Labels[policy.LabelPattern])
	}
}

func strp(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}
