//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/hdscale/hdscale/internal/policy"
)

// The leader-election Leases hdscale's replicas create at run time: the
// second scheduler's (manifests/scheduler/kube-scheduler-config.yaml) and the
// webhook's (the replica that posts outage events, webhook/outage.go).
var leaderLeases = map[string]bool{"hdscale-scheduler": true, "hdscale-webhook": true}

// TestUninstall (only with -uninstall, after a Helm install) runs
// `helm uninstall` while a runtime workload runs and checks that nothing
// hdscale created is left - the release's objects and the TLS Secret the
// webhook made at run time; the release namespace is kept by the chart's
// resource policy, holding only the leader-election Leases, and deleted as
// docs/install.md says - and that no pod is left blocked: running replicas
// keep running, replacements and new runtime pods are admitted and
// scheduled without hdscale. It is destructive, so make helm-e2e runs it
// last and make deploy installs hdscale again.
func TestUninstall(t *testing.T) {
	if !suite.uninstall {
		t.Skip("needs -uninstall (make helm-e2e)")
	}
	g := group(t)
	ns := newNamespace(t, "uninstall", patternLabels(policy.PerNode), nsOptions{waitGone: true})
	const workload = "runtime"
	runWorkload(t, deploymentOf(ns, workload, 2, runtimeTemplate(workload)))

	var before []corev1.Pod
	var release []*unstructured.Unstructured
	if !g.step(t, "before: a per-node workload placed by hdscale, the TLS Secret owned by both webhook configurations", func(t *testing.T) {
		before = waitWorkloadReady(t, ns, workload, 2)
		for _, p := range before {
			if p.Spec.SchedulerName != schedulerName {
				t.Errorf("pod %s: schedulerName %q, want %q (not mutated?)", p.Name, p.Spec.SchedulerName, schedulerName)
			}
		}
		ctx, cancel := callContext(t)
		defer cancel()
		m, err := suite.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhookConfigName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := suite.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, webhookConfigName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sec, err := tlsSecret(ctx)
		if err != nil {
			t.Fatal(err)
		}
		owners := map[string]string{}
		for _, r := range sec.OwnerReferences {
			owners[r.Kind] = string(r.UID)
		}
		if owners["MutatingWebhookConfiguration"] != string(m.UID) || owners["ValidatingWebhookConfiguration"] != string(v.UID) {
			t.Errorf("Secret %s owners %v, want the webhook configurations (mutating %s, validating %s)", tlsSecretName, owners, m.UID, v.UID)
		}
		out, err := runHelm(ctx, "get", "manifest", helmRelease, "--namespace", systemNamespace)
		if err != nil {
			t.Fatal(err)
		}
		if release, err = decodeYAMLStream(out); err != nil {
			t.Fatalf("decoding `helm get manifest`: %v", err)
		}
		if len(release) < 20 {
			t.Fatalf("the release holds %d objects; want the whole chart", len(release))
		}
	}) {
		return
	}

	g.step(t, "helm uninstall --wait succeeds", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(testContext(t), 4*time.Minute)
		defer cancel()
		out, err := runHelm(ctx, "uninstall", helmRelease, "--namespace", systemNamespace, "--wait", "--timeout", "3m")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s", bytes.TrimSpace(out))
	})

	g.step(t, "nothing of hdscale is left: the release's objects, the TLS Secret (garbage-collected), every pod; the namespace kept", func(t *testing.T) {
		mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(suite.client.Discovery()))
		waitFor(t, namespaceGoneTimeout, "every object of the release but its namespace, and the Secret, to be gone", func(ctx context.Context) (bool, string, error) {
			var left []string
			for _, o := range release {
				if o.GetKind() == "Namespace" {
					continue
				}
				gone, err := objectGone(ctx, mapper, o)
				if err != nil {
					return false, "", err
				}
				if !gone {
					left = append(left, o.GetKind()+" "+o.GetName())
				}
			}
			// The namespace stays, so only the owner references (the webhook
			// configurations) can have removed the Secret.
			if _, err := suite.client.CoreV1().Secrets(systemNamespace).Get(ctx, tlsSecretName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				left = append(left, "Secret "+tlsSecretName)
			}
			pods, err := suite.client.CoreV1().Pods(systemNamespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, "", err
			}
			for _, p := range pods.Items {
				left = append(left, "Pod "+p.Name)
			}
			return len(left) == 0, fmt.Sprintf("left: %s", strings.Join(left, ", ")), nil
		})
		ctx, cancel := callContext(t)
		defer cancel()
		nsObj, err := suite.client.CoreV1().Namespaces().Get(ctx, systemNamespace, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("namespace %s: %v (the chart keeps it: helm.sh/resource-policy)", systemNamespace, err)
		}
		if nsObj.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("namespace %s annotations %v: want helm.sh/resource-policy=keep", systemNamespace, nsObj.Annotations)
		}
		// What is left in it is what Kubernetes itself puts into every
		// namespace and the two leader Leases (docs/install.md).
		var left []string
		secrets, err := suite.client.CoreV1().Secrets(systemNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets.Items {
			left = append(left, "Secret "+s.Name)
		}
		cms, err := suite.client.CoreV1().ConfigMaps(systemNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cms.Items {
			if c.Name != "kube-root-ca.crt" {
				left = append(left, "ConfigMap "+c.Name)
			}
		}
		sas, err := suite.client.CoreV1().ServiceAccounts(systemNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, sa := range sas.Items {
			if sa.Name != "default" {
				left = append(left, "ServiceAccount "+sa.Name)
			}
		}
		leases, err := suite.client.CoordinationV1().Leases(systemNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leases.Items {
			if !leaderLeases[l.Name] {
				left = append(left, "Lease "+l.Name)
			}
		}
		if len(left) > 0 {
			t.Errorf("left in namespace %s after helm uninstall: %s", systemNamespace, strings.Join(left, ", "))
		}
	})

	g.step(t, "kubectl delete namespace removes the rest", func(t *testing.T) {
		ctx, cancel := callContext(t)
		defer cancel()
		if err := suite.client.CoreV1().Namespaces().Delete(ctx, systemNamespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		waitFor(t, namespaceGoneTimeout, "namespace "+systemNamespace+" to be deleted", namespaceGone(systemNamespace))
	})

	g.step(t, "no pod blocked: replicas keep running, a replacement and a new runtime pod run without hdscale", func(t *testing.T) {
		ctx, cancel := callContext(t)
		defer cancel()
		now, err := workloadPods(ctx, ns, workload)
		if err != nil {
			t.Fatal(err)
		}
		if podNames(now) != podNames(before) {
			t.Errorf("runtime pods after the uninstall %s, before %s: running pods must be left alone", podStates(now), podStates(before))
		}
		zero := int64(0)
		if err := suite.client.CoreV1().Pods(ns).Delete(ctx, before[0].Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
		pods := waitWorkloadReady(t, ns, workload, 2)
		for _, p := range pods {
			if p.Name != before[0].Name && p.Name != before[1].Name && p.Spec.SchedulerName != corev1.DefaultSchedulerName {
				t.Errorf("replacement %s: schedulerName %q, want %q", p.Name, p.Spec.SchedulerName, corev1.DefaultSchedulerName)
			}
		}
		// A new runtime pod in the still-labelled namespace: admitted (no
		// webhook left to fail closed) and unmutated.
		pod := podFrom(ns, "after-uninstall", runtimeTemplate("after-uninstall"))
		if _, err := suite.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("a runtime pod in a labelled namespace after the uninstall: %v", err)
		}
		waitWorkloadReady(t, ns, "after-uninstall", 1)
		// Relabelling the namespace is no longer validated by anyone.
		if _, err := suite.client.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"`+policy.LabelPattern+`":"per-core"}}}`), metav1.PatchOptions{}); err != nil {
			t.Errorf("relabelling namespace %s after the uninstall: %v", ns, err)
		}
		all, err := suite.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Pending"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range all.Items {
			if p.Spec.SchedulerName == schedulerName && p.DeletionTimestamp == nil {
				t.Errorf("pod %s/%s is Pending for the removed scheduler %s", p.Namespace, p.Name, schedulerName)
			}
		}
	})
}

// runHelm runs the helm binary (-helm) against the suite's cluster.
func runHelm(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, suite.helm, append(args, "--kubeconfig", suite.kubecfg)...)
	cmd.Dir = suite.repoRoot
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// objectGone reports whether o no longer exists.
func objectGone(ctx context.Context, mapper *restmapper.DeferredDiscoveryRESTMapper, o *unstructured.Unstructured) (bool, error) {
	gvk := o.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return false, fmt.Errorf("%s %s: no REST mapping: %w", gvk.Kind, o.GetName(), err)
	}
	ri := suite.dynamic.Resource(m.Resource)
	if m.Scope.Name() == "namespace" {
		ns := o.GetNamespace()
		if ns == "" {
			ns = systemNamespace
		}
		_, err = ri.Namespace(ns).Get(ctx, o.GetName(), metav1.GetOptions{})
	} else {
		_, err = ri.Get(ctx, o.GetName(), metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	return false, err
}

func podNames(pods []corev1.Pod) string {
	names := make([]string, 0, len(pods))
	for _, p := range pods {
		names = append(names, p.Name)
	}
	return strings.Join(names, ",")
}
