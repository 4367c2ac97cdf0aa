//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/hdscale/hdscale/certs"
	"github.com/hdscale/hdscale/internal/policy"
)

// How fast the webhook must put a caBundle back after it was emptied.
const caBundleRepairDeadline = 30 * time.Second

// TestFaults: what happens when metrics-server or the webhook is down, when
// an admin re-applies the manifests, and when certificates rotate under load.
func TestFaults(t *testing.T) {
	g := group(t)
	nodes := poolNodes(t, poolName)

	g.step(t, "metrics-server down: runtime pods still schedule (fallback)", func(t *testing.T) {
		testMetricsServerDown(t, nodes)
	})
	g.step(t, "webhook down: runtime pods rejected (failurePolicy Fail), audit-namespace, kube-system and other pods admitted; recovers", func(t *testing.T) {
		testWebhookDown(t, nodes)
	})
	g.step(t, "re-applying the manifests keeps or repairs the caBundle", func(t *testing.T) {
		testReapply(t)
	})
	g.step(t, "certificate rotation run to its end under a stream of pod creates: zero failures", func(t *testing.T) {
		testRotation(t, nodes)
	})
}

func testMetricsServerDown(t *testing.T, nodes []poolNode) {
	const msNS, msName = "kube-system", "metrics-server"
	// Created before metrics-server goes down, so that its cleanup runs after
	// metrics-server is back: the namespace controller cannot finish deleting
	// a namespace while an aggregated API (metrics.k8s.io) is unavailable.
	ns := newNamespace(t, "nometrics", patternLabels(policy.PerNode), nsOptions{waitGone: true})
	ctx, cancel := callContext(t)
	defer cancel()
	d, err := suite.client.AppsV1().Deployments(msNS).Get(ctx, msName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading %s/%s: %v", msNS, msName, err)
	}
	orig := ptr.Deref(d.Spec.Replicas, 1)
	t.Cleanup(func() {
		scaleDeployment(t, msNS, msName, orig)
		waitDeploymentReady(t, msNS, msName, 3*time.Minute)
		waitFor(t, 3*time.Minute, "NodeMetrics for every node again", func(ctx context.Context) (bool, string, error) {
			u, err := nodeCPUUsage(ctx)
			if err != nil {
				return false, "", err
			}
			all, err := suite.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, "", err
			}
			return len(u) == len(all.Items), fmt.Sprintf("metrics for %d of %d nodes", len(u), len(all.Items)), nil
		})
	})
	scaleDeployment(t, msNS, msName, 0)
	waitFor(t, 2*time.Minute, "metrics.k8s.io to stop answering", func(ctx context.Context) (bool, string, error) {
		u, err := nodeCPUUsage(ctx)
		if err != nil {
			return true, "NodeMetrics: " + err.Error(), nil
		}
		return false, fmt.Sprintf("NodeMetrics still served for %d nodes", len(u)), nil
	})
	waitExtenderMetricsUnavailable(t, len(nodes))

	n := len(nodes)
	runWorkload(t, deploymentOf(ns, "rt", int32(n), runtimeTemplate("rt")))
	pods := waitWorkloadReady(t, ns, "rt", n)
	checkInPool(t, pods)
	for node, c := range podsOnNodes(pods) {
		if c != 1 {
			t.Errorf("without metrics node %s got %d per-node replicas, want 1: %s", node, c, podStates(pods))
		}
	}
	// The extender decided on the requests-based fallback, not on old samples.
	ctx, cancel = callContext(t)
	defer cancel()
	for _, p := range pods {
		ds, err := extenderDecisions(ctx, p.Namespace, p.Name)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			t.Errorf("the extender recorded no decision for %s", p.Name)
		}
		for _, d := range ds {
			for _, n := range d.Nodes {
				if n.Data == "live" {
					t.Errorf("%s: the extender's %s decision used live data for %s while metrics-server is down: %s", p.Name, d.Verb, n.Node, n)
				}
			}
		}
	}
}

func testWebhookDown(t *testing.T, nodes []poolNode) {
	labels := patternLabels(policy.PerNode)
	ns := newNamespace(t, "nowebhook", labels, nsOptions{})
	auditNS := newNamespace(t, "nowebhook-audit", patternLabels(policy.PerNode, policy.LabelMode, string(policy.ModeAudit)), nsOptions{})
	ctx, cancel := callContext(t)
	defer cancel()
	d, err := suite.client.AppsV1().Deployments(systemNamespace).Get(ctx, webhookDeployment, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	orig := ptr.Deref(d.Spec.Replicas, 2)
	restored := false
	restore := func() {
		if restored {
			return
		}
		restored = true
		scaleDeployment(t, systemNamespace, webhookDeployment, orig)
		waitDeploymentReady(t, systemNamespace, webhookDeployment, 3*time.Minute)
		waitWebhookServing(t, ns, labels, nodes)
	}
	t.Cleanup(restore)

	scaleDeployment(t, systemNamespace, webhookDeployment, 0)
	waitFor(t, 2*time.Minute, "no ready endpoints behind Service "+webhookService, func(ctx context.Context) (bool, string, error) {
		n, err := webhookEndpoints(ctx)
		if err != nil {
			return false, "", err
		}
		pods, _ := suite.client.CoreV1().Pods(systemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=webhook"})
		left := 0
		if pods != nil {
			left = len(pods.Items)
		}
		return n == 0 && left == 0, fmt.Sprintf("%d ready endpoints, %d webhook pods", n, left), nil
	})

	ctx, cancel = callContext(t)
	defer cancel()
	// A runtime pod is refused while no webhook answers ...
	_, err = dryRunCreate(t, suite.client, podFrom(ns, "rt", runtimeTemplate("rt")))
	if err == nil {
		t.Error("a runtime pod was admitted while the webhook is down (failurePolicy Fail expected)")
	} else if !strings.Contains(err.Error(), "pods.hdscale.io") {
		t.Errorf("runtime pod refused, but not by the hdscale webhook call: %v", err)
	} else {
		t.Logf("runtime pod refused as expected: %v", err)
	}
	// ... while one in an audit namespace is admitted (audit changes nothing,
	// so its webhook entry fails open), unannotated ...
	if got, err := dryRunCreate(t, suite.client, podFrom(auditNS, "rt", runtimeTemplate("rt"))); err != nil {
		t.Errorf("a runtime pod in audit namespace %s was refused while the webhook is down (failurePolicy Ignore expected): %v", auditNS, err)
	} else if _, ok := got.Annotations[policy.AnnotationAudit]; ok {
		t.Errorf("audit pod annotated while the webhook is down: %v", got.Annotations)
	}
	// ... a runtime pod in kube-system never reaches hdscale ...
	if _, err := dryRunCreate(t, suite.client, podFrom("kube-system", "hdscale-e2e-rt", runtimeTemplate("rt"))); err != nil {
		t.Errorf("a runtime pod in kube-system was refused while the webhook is down: %v", err)
	}
	// ... a non-runtime pod in the same namespace is admitted for real
	// (matchConditions keep it away from the webhook) ...
	backend := podFrom(ns, "backend", backendTemplate("backend"))
	created, err := suite.client.CoreV1().Pods(ns).Create(ctx, backend, metav1.CreateOptions{})
	if err != nil {
		t.Errorf("a backend pod was refused while the webhook is down: %v", err)
	} else if probs := untouchedProblems(created, backend); len(probs) > 0 {
		t.Errorf("backend pod changed: %v", probs)
	}
	// ... and, the namespace webhook failing open, a bad label can be set.
	bad := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-forced-", Labels: map[string]string{
		e2eLabel: "true", policy.LabelPattern: "per-pod"}}}
	forced, err := suite.client.CoreV1().Namespaces().Create(ctx, bad, metav1.CreateOptions{})
	if err != nil {
		t.Errorf("namespace with a bad label refused while the webhook is down (failurePolicy Ignore expected): %v", err)
	} else {
		t.Cleanup(func() { deleteNamespace(t, forced.Name, false) })
	}

	restore()

	// Runtime pods are admitted and mutated again (waitWebhookServing), and
	// the pods of the namespace that got its bad label past the webhook are
	// denied with the label named.
	if forced != nil {
		_, err := dryRunCreate(t, suite.client, podFrom(forced.Name, "rt", runtimeTemplate("rt")))
		if err == nil {
			t.Errorf("runtime pod admitted in namespace %s with %s=per-pod", forced.Name, policy.LabelPattern)
		} else {
			for _, w := range []string{policy.LabelPattern, "per-pod", "per-node, per-node-single, per-core"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("denial in badly labelled namespace does not mention %q: %v", w, err)
				}
			}
		}
	}
}

// waitWebhookServing waits until a dry-run runtime pod in ns is admitted and
// mutated (endpoints and caBundle in place), three times in a row.
func waitWebhookServing(t *testing.T, ns string, labels map[string]string, nodes []poolNode) {
	t.Helper()
	e, err := expectFor(labels, nodes)
	if err != nil {
		t.Fatal(err)
	}
	streak := 0
	waitFor(t, 2*time.Minute, "runtime pods admitted and mutated 3 times in a row", func(ctx context.Context) (bool, string, error) {
		got, err := suite.client.CoreV1().Pods(ns).Create(ctx, podFrom(ns, "probe", runtimeTemplate("probe")), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			streak = 0
			return false, "", err
		}
		if probs := mutationProblems(got, e); len(probs) > 0 {
			streak = 0
			return false, strings.Join(probs, "; "), nil
		}
		streak++
		return streak >= 3, fmt.Sprintf("%d in a row", streak), nil
	})
}

func testReapply(t *testing.T) {
	objs := kustomizeManifests(t)
	mwc := findObject(objs, "MutatingWebhookConfiguration", webhookConfigName)
	vwc := findObject(objs, "ValidatingWebhookConfiguration", webhookConfigName)
	if mwc == nil || vwc == nil {
		t.Fatal("manifests/ render no hdscale webhook configurations")
	}
	waitFor(t, time.Minute, "caBundles equal to the Secret before re-applying", bundlesMatchSecret)

	t.Run("kubectl apply (client-side)", func(t *testing.T) {
		for _, o := range []*unstructured.Unstructured{mwc, vwc} {
			y, err := yaml.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := kubectl(testContext(t), y, "apply", "-f", "-"); err != nil {
				t.Fatal(err)
			} else {
				t.Logf("%s", bytes.TrimSpace(out))
			}
		}
		waitFor(t, caBundleRepairDeadline, "caBundles equal to the Secret after kubectl apply", bundlesMatchSecret)
	})

	t.Run("server-side apply (force)", func(t *testing.T) {
		for _, o := range []*unstructured.Unstructured{mwc, vwc} {
			y, err := yaml.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kubectl(testContext(t), y, "apply", "--server-side", "--force-conflicts", "--field-manager=hdscale-e2e", "-f", "-"); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, caBundleRepairDeadline, "caBundles equal to the Secret after server-side apply", bundlesMatchSecret)
	})

	t.Run("replace with the rendered objects (caBundle emptied) is repaired", func(t *testing.T) {
		ctx, cancel := callContext(t)
		defer cancel()
		var m admissionregistrationv1.MutatingWebhookConfiguration
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(mwc.Object, &m); err != nil {
			t.Fatal(err)
		}
		var v admissionregistrationv1.ValidatingWebhookConfiguration
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(vwc.Object, &v); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		liveM, err := suite.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhookConfigName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m.ResourceVersion = liveM.ResourceVersion
		gotM, err := suite.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, &m, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("replacing the MutatingWebhookConfiguration: %v", err)
		}
		liveV, err := suite.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, webhookConfigName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v.ResourceVersion = liveV.ResourceVersion
		gotV, err := suite.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Update(ctx, &v, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("replacing the ValidatingWebhookConfiguration: %v", err)
		}
		if len(gotM.Webhooks[0].ClientConfig.CABundle) != 0 || len(gotV.Webhooks[0].ClientConfig.CABundle) != 0 {
			t.Fatal("the replaced configurations still carry a caBundle: the test did not empty it")
		}
		waitFor(t, caBundleRepairDeadline, "caBundles repaired after the configurations were replaced", bundlesMatchSecret)
		t.Logf("caBundle repaired %v after it was emptied", time.Since(start).Round(100*time.Millisecond))
		// Leave the configurations as `kubectl apply` manages them (the
		// replace dropped its last-applied annotation).
		for _, o := range []*unstructured.Unstructured{mwc, vwc} {
			y, err := yaml.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kubectl(testContext(t), y, "apply", "-f", "-"); err != nil {
				t.Error(err)
			}
		}
		waitFor(t, caBundleRepairDeadline, "caBundles equal to the Secret after the final kubectl apply", bundlesMatchSecret)
	})
}

// Webhook flags shortened for the rotation test (cmd/webhook/main.go). The
// CA overlap keeps its default (--ca-overlap, 10 min: the test ends once the
// stream has run well past the switch to the new CA, before the old CA leaves
// the bundle) and a CA's renewal window must exceed propagation delay +
// overlap, so the window
// (--cert-rotate-before, shared by CA and serving certificate) is just over
// 10 min, and lifetimes just over that make renewals come due soon after
// issue: serving renewal ~30 s after issue, CA rotation start ~60 s, switch
// to the new CA --ca-propagation-delay later.
var rotationFlags = map[string]string{
	"--cert-rotate-before":   "10m20s",
	"--cert-validity":        "10m50s",
	"--ca-validity":          "11m20s",
	"--ca-propagation-delay": "10s",
	// Short, so that the rotation runs to its end (the old CA leaves the
	// caBundles) while the stream runs.
	"--ca-overlap": "20s",
}

func testRotation(t *testing.T, nodes []poolNode) {
	labels := patternLabels(policy.PerNode)
	ns := newNamespace(t, "rotation", labels, nsOptions{})
	e, err := expectFor(labels, nodes)
	if err != nil {
		t.Fatal(err)
	}

	origCmd, origArgs := webhookCommand(t)
	t.Cleanup(func() {
		setWebhookCommand(t, origCmd, origArgs)
		waitWebhookRolledOut(t)
		// The short-lived CA would expire under the default settings before
		// a rotation could finish: start over with a fresh long-lived one.
		resetTLSSecret(t)
		waitFor(t, 2*time.Minute, "caBundles equal to the new Secret", bundlesMatchSecret)
		waitWebhookServing(t, ns, labels, nodes)
	})
	cmd, args := withFlags(origCmd, origArgs, rotationFlags)
	setWebhookCommand(t, cmd, args)
	waitWebhookRolledOut(t)
	// The existing certificates were issued with the long default lifetimes
	// and would not come due; a new Secret gets short-lived ones.
	resetTLSSecret(t)
	waitFor(t, 2*time.Minute, "a short-lived CA in the new Secret", func(ctx context.Context) (bool, string, error) {
		sec, err := tlsSecret(ctx)
		if err != nil {
			return false, "", err
		}
		ca := firstCert(sec.Data[certs.KeyCACert])
		if ca == nil {
			return false, "no CA yet", nil
		}
		life := ca.NotAfter.Sub(ca.NotBefore)
		return life < time.Hour, fmt.Sprintf("CA %s valid for %v", serialOf(ca), life), nil
	})
	waitFor(t, 2*time.Minute, "caBundles equal to the new Secret", bundlesMatchSecret)
	waitWebhookServing(t, ns, labels, nodes)

	obs := watchRotation(t)
	st := startAdmissionStream(t, ns, e, 5)
	var retired time.Time
	waitForEvery(t, time.Second, 5*time.Minute, "a serving-certificate rotation and a CA rotation run to its end (the old CA gone from the caBundles) under the stream",
		func(ctx context.Context) (bool, string, error) {
			if !obs.done() {
				return false, obs.String() + "; " + st.String(), nil
			}
			bundles, err := caBundles(ctx)
			if err != nil {
				return false, "", err
			}
			only := true
			for _, b := range bundles {
				cas := parsePEMCerts(b)
				only = only && len(cas) == 1 && serialOf(cas[0]) == obs.currentCA()
			}
			if only && retired.IsZero() {
				retired = time.Now()
			}
			return only && st.admittedSince(retired) >= 25, fmt.Sprintf("%s; bundles only the new CA: %v; %s", obs, only, st), nil
		})
	st.stop()
	t.Logf("rotation: %s; stream: %s", obs, st)
	if f := st.failures(); len(f) > 0 {
		t.Errorf("%d of %d pod creates failed during rotation:\n  %s", len(f), st.total(), strings.Join(f, "\n  "))
	}
	if st.total() < 100 {
		t.Errorf("only %d pod creates ran during the rotation; the stream did not exercise it", st.total())
	}
}

// webhookCommand returns the webhook container's command and args.
func webhookCommand(t *testing.T) ([]string, []string) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	d, err := suite.client.AppsV1().Deployments(systemNamespace).Get(ctx, webhookDeployment, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := webhookContainer(d)
	if c == nil {
		t.Fatalf("Deployment %s has no container named webhook", webhookDeployment)
	}
	return append([]string(nil), c.Command...), append([]string(nil), c.Args...)
}

func webhookContainer(d *appsv1.Deployment) *corev1.Container {
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == "webhook" {
			return &d.Spec.Template.Spec.Containers[i]
		}
	}
	return nil
}

// withFlags sets flags (--name=value) in args when the container has args,
// else in the command after the binary; existing values are replaced.
func withFlags(cmd, args []string, flags map[string]string) ([]string, []string) {
	set := func(list []string) []string {
		out := make([]string, 0, len(list)+len(flags))
		for _, a := range list {
			name, _, _ := strings.Cut(a, "=")
			if _, ok := flags[name]; ok {
				continue
			}
			out = append(out, a)
		}
		names := make([]string, 0, len(flags))
		for name := range flags {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			out = append(out, name+"="+flags[name])
		}
		return out
	}
	if len(args) > 0 || len(cmd) == 0 {
		return cmd, set(args)
	}
	return append([]string{cmd[0]}, set(cmd[1:])...), args
}

// setWebhookCommand patches the webhook container's command and args.
func setWebhookCommand(t *testing.T, cmd, args []string) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	type container struct {
		Name    string   `json:"name"`
		Command []string `json:"command"`
		Args    []string `json:"args"`
	}
	patch := map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
		"containers": []container{{Name: "webhook", Command: cmd, Args: args}}}}}}
	body, err := yaml.Marshal(patch)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := suite.client.AppsV1().Deployments(systemNamespace).Patch(ctx, webhookDeployment, types.StrategicMergePatchType, js, metav1.PatchOptions{}); err != nil {
		t.Fatalf("patching the webhook's command: %v", err)
	}
	t.Logf("webhook command: %v args: %v", cmd, args)
}

// waitWebhookRolledOut waits until the webhook Deployment rolled out and no
// pod of an earlier template is left, not even terminating: an old replica
// still running its certificate manager would react to the Secret with its
// old settings.
func waitWebhookRolledOut(t *testing.T) {
	t.Helper()
	d := waitDeploymentReady(t, systemNamespace, webhookDeployment, 4*time.Minute)
	want := int(ptr.Deref(d.Spec.Replicas, 1))
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "only the new webhook pods, all ready", func(ctx context.Context) (bool, string, error) {
		l, err := suite.client.CoreV1().Pods(systemNamespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return false, "", err
		}
		ready, terminating := 0, 0
		for i := range l.Items {
			switch {
			case l.Items[i].DeletionTimestamp != nil:
				terminating++
			case podReady(&l.Items[i]):
				ready++
			}
		}
		return len(l.Items) == want && ready == want, fmt.Sprintf("%d pods: %d ready, %d terminating (want %d)", len(l.Items), ready, terminating, want), nil
	})
}

// resetTLSSecret deletes the webhook's TLS Secret (the webhook issues a new
// CA and serving certificate) and waits until a new one exists.
func resetTLSSecret(t *testing.T) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	old, err := tlsSecret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = suite.client.CoreV1().Secrets(systemNamespace).Delete(ctx, tlsSecretName, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &old.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "a new Secret "+tlsSecretName, func(ctx context.Context) (bool, string, error) {
		sec, err := tlsSecret(ctx)
		if err != nil {
			return false, "", err
		}
		ok := sec.UID != old.UID && len(sec.Data[certs.KeyCABundle]) > 0 && len(sec.Data[certs.KeyServingCert]) > 0
		return ok, fmt.Sprintf("Secret uid %s (old %s), keys %v", sec.UID, old.UID, secretKeys(sec.Data)), nil
	})
}

// rotationObserver polls the TLS Secret and records the rotations it sees.
type rotationObserver struct {
	mu               sync.Mutex
	firstCA, lastCA  string
	lastServing      string
	servingRotations int // serving certificate changed, same CA
	caSwitches       int // the signing CA changed
	switchedAt       time.Time
	phases           []string
	cancel           context.CancelFunc
	wg               sync.WaitGroup
	lastErr          string
	lastPhase        string
}

func watchRotation(t *testing.T) *rotationObserver {
	ctx, cancel := context.WithCancel(context.Background())
	o := &rotationObserver{cancel: cancel}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		_ = pollForever(ctx, 250*time.Millisecond, o.observe)
	}()
	t.Cleanup(func() { cancel(); o.wg.Wait() })
	return o
}

// pollForever calls f every interval until ctx ends.
func pollForever(ctx context.Context, interval time.Duration, f func(context.Context)) error {
	return waitPollUntilCancel(ctx, interval, func(ctx context.Context) (bool, error) {
		f(ctx)
		return false, nil
	})
}

func (o *rotationObserver) observe(ctx context.Context) {
	sec, err := tlsSecret(ctx)
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.lastErr = err.Error()
		return
	}
	ca := serialOf(firstCert(sec.Data[certs.KeyCACert]))
	serving := serialOf(firstCert(sec.Data[certs.KeyServingCert]))
	phase := sec.Annotations[certs.AnnotationPhase]
	if phase != o.lastPhase {
		o.phases = append(o.phases, fmt.Sprintf("%s@%s", phase, time.Now().Format("15:04:05")))
		o.lastPhase = phase
	}
	switch {
	case o.firstCA == "":
		o.firstCA, o.lastCA, o.lastServing = ca, ca, serving
	case ca != o.lastCA:
		o.caSwitches++
		o.switchedAt = time.Now()
		o.lastCA, o.lastServing = ca, serving
	case serving != o.lastServing:
		o.servingRotations++
		o.lastServing = serving
	}
}

func (o *rotationObserver) done() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.servingRotations >= 1 && o.caSwitches >= 1
}

// currentCA is the serial of the signing CA last seen.
func (o *rotationObserver) currentCA() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lastCA
}

func (o *rotationObserver) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := fmt.Sprintf("CA %s -> %s (%d switches), %d serving renewals, phases %v", o.firstCA, o.lastCA, o.caSwitches, o.servingRotations, o.phases)
	if o.lastErr != "" {
		s += ", last error " + o.lastErr
	}
	return s
}

// admissionStream creates dry-run runtime pods at a fixed rate and records
// every one that was not admitted and mutated as the policy says.
type admissionStream struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	n       atomic.Int64
	skipped atomic.Int64
	mu      sync.Mutex
	fails   []string
	okAt    []time.Time
}

func startAdmissionStream(t *testing.T, ns string, e expectation, perSecond int) *admissionStream {
	ctx, cancel := context.WithCancel(context.Background())
	s := &admissionStream{cancel: cancel}
	sem := make(chan struct{}, 2*perSecond)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case sem <- struct{}{}:
			default:
				// The API server is not keeping up: skip this tick rather
				// than pile up requests (not an admission failure).
				s.skipped.Add(1)
				continue
			}
			s.wg.Add(1)
			go func(i int) {
				defer s.wg.Done()
				defer func() { <-sem }()
				s.one(ctx, i, ns, e)
			}(i)
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *admissionStream) one(ctx context.Context, i int, ns string, e expectation) {
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ctx.Err() != nil {
		return
	}
	s.n.Add(1)
	pod := podFrom(ns, fmt.Sprintf("stream-%d", i), runtimeTemplate("stream"))
	got, err := suite.client.CoreV1().Pods(ns).Create(cctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	at := time.Now().Format("15:04:05.000")
	if err != nil {
		s.fail(fmt.Sprintf("#%d at %s: %v", i, at, err))
		return
	}
	if probs := mutationProblems(got, e); len(probs) > 0 {
		s.fail(fmt.Sprintf("#%d at %s admitted but not mutated as expected: %s", i, at, strings.Join(probs, "; ")))
		return
	}
	s.mu.Lock()
	s.okAt = append(s.okAt, time.Now())
	s.mu.Unlock()
}

func (s *admissionStream) fail(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = append(s.fails, msg)
}

func (s *admissionStream) stop() {
	s.cancel()
	s.wg.Wait()
}

func (s *admissionStream) total() int { return int(s.n.Load()) }

func (s *admissionStream) failures() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.fails...)
}

// admissionFailures are the failures that involve a webhook: a denial, a
// failed webhook call (failurePolicy Fail), or a pod admitted but not
// mutated. The rest are the API server's own (down, restarting).
func (s *admissionStream) admissionFailures() []string {
	var out []string
	for _, f := range s.failures() {
		if strings.Contains(f, "webhook") || strings.Contains(f, "not mutated") {
			out = append(out, f)
		}
	}
	return out
}

// admittedSince counts the creates admitted after t (0 for a zero t).
func (s *admissionStream) admittedSince(t time.Time) int {
	if t.IsZero() {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, at := range s.okAt {
		if at.After(t) {
			n++
		}
	}
	return n
}

func (s *admissionStream) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%d creates, %d admitted and mutated, %d failed, %d ticks skipped (API server busy)",
		s.n.Load(), len(s.okAt), len(s.fails), s.skipped.Load())
}
