//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/hdscale/hdscale/certs"
)

// TestInstall checks what `make deploy` (kubectl apply -k) or, with
// -install=helm, `make helm-e2e` (helm install, default values) installed.
func TestInstall(t *testing.T) {
	g := group(t)

	if suite.install == installHelm {
		g.step(t, "installed by helm install: the workloads and webhook configurations are the release's", func(t *testing.T) {
			ctx, cancel := callContext(t)
			defer cancel()
			var metas []metav1.ObjectMeta
			for _, name := range []string{webhookDeployment, schedulerDeploy} {
				d, err := suite.client.AppsV1().Deployments(systemNamespace).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				metas = append(metas, d.ObjectMeta)
			}
			m, err := suite.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhookConfigName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			metas = append(metas, m.ObjectMeta)
			for _, om := range metas {
				if om.Labels["app.kubernetes.io/managed-by"] != "Helm" || om.Annotations["meta.helm.sh/release-name"] != helmRelease {
					t.Errorf("%s: labels %v, annotations %v: not installed by the Helm release %s", om.Name, om.Labels, om.Annotations, helmRelease)
				}
			}
		})
	}

	g.step(t, "webhook Deployment ready 2/2", func(t *testing.T) {
		d := waitDeploymentReady(t, systemNamespace, webhookDeployment, 2*time.Minute)
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
			t.Errorf("webhook replicas = %v, want 2", d.Spec.Replicas)
		}
		if d.Status.ReadyReplicas != 2 {
			t.Errorf("webhook ready replicas = %d, want 2", d.Status.ReadyReplicas)
		}
	})

	g.step(t, "caBundle in both configurations equals the Secret's CA bundle", func(t *testing.T) {
		waitFor(t, time.Minute, "caBundles equal to Secret "+tlsSecretName+" "+certs.KeyCABundle, bundlesMatchSecret)
		ctx, cancel := callContext(t)
		defer cancel()
		sec, err := tlsSecret(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{certs.KeyCABundle, certs.KeyCACert, certs.KeyServingCert, certs.KeyServingKey} {
			if len(sec.Data[k]) == 0 {
				t.Errorf("Secret %s lacks %s (keys: %v)", tlsSecretName, k, secretKeys(sec.Data))
			}
		}
		// The bundle must contain the CA that signed the serving certificate.
		serving := firstCert(sec.Data[certs.KeyServingCert])
		if serving == nil {
			t.Fatalf("Secret %s: %s holds no certificate", tlsSecretName, certs.KeyServingCert)
		}
		verified := false
		for _, ca := range parsePEMCerts(sec.Data[certs.KeyCABundle]) {
			if serving.CheckSignatureFrom(ca) == nil {
				verified = true
			}
		}
		if !verified {
			t.Errorf("the serving certificate %s is signed by no CA of the bundle %s", serialOf(serving), describeBundle(sec.Data[certs.KeyCABundle]))
		}
		want := webhookService + "." + systemNamespace + ".svc"
		found := false
		for _, n := range serving.DNSNames {
			found = found || n == want
		}
		if !found {
			t.Errorf("serving certificate DNS names %v lack %s", serving.DNSNames, want)
		}
	})

	g.step(t, "scheduler Deployment ready", func(t *testing.T) {
		d := waitDeploymentReady(t, systemNamespace, schedulerDeploy, 2*time.Minute)
		names := map[string]bool{}
		for _, c := range d.Spec.Template.Spec.Containers {
			names[c.Name] = true
		}
		if len(d.Spec.Template.Spec.Containers) < 2 {
			t.Errorf("scheduler pod has containers %v, want kube-scheduler and the extender sidecar", names)
		}
	})

	g.step(t, "extender /readyz ok via the pod proxy", func(t *testing.T) {
		waitFor(t, time.Minute, "extender /readyz on every scheduler pod", func(ctx context.Context) (bool, string, error) {
			pods, err := schedulerPods(ctx)
			if err != nil {
				return false, "", err
			}
			if len(pods) == 0 {
				return false, "no running scheduler pods", nil
			}
			var seen []string
			ok := true
			for _, p := range pods {
				b, err := proxyGet(ctx, p.Namespace, p.Name, extenderPort, "/readyz", nil)
				if err != nil {
					ok = false
					seen = append(seen, err.Error())
					continue
				}
				seen = append(seen, fmt.Sprintf("%s: %q", p.Name, truncate(strings.TrimSpace(string(b)), 200)))
			}
			return ok, strings.Join(seen, "; "), nil
		})
	})

	g.step(t, "manifests/ apply with server-side dry-run", func(t *testing.T) {
		objs := kustomizeManifests(t)
		kinds := map[string]int{}
		for _, o := range objs {
			kinds[o.GetKind()]++
		}
		for _, want := range []struct{ kind, name string }{
			{"Namespace", systemNamespace},
			{"Deployment", webhookDeployment},
			{"Deployment", schedulerDeploy},
			{"Service", webhookService},
			{"MutatingWebhookConfiguration", webhookConfigName},
			{"ValidatingWebhookConfiguration", webhookConfigName},
		} {
			if findObject(objs, want.kind, want.name) == nil {
				t.Errorf("`kubectl kustomize manifests/` renders no %s %s (kinds: %v)", want.kind, want.name, kinds)
			}
		}
		if mwc := findObject(objs, "MutatingWebhookConfiguration", webhookConfigName); mwc != nil {
			if b, _, _ := unstructured.NestedString(mwc.Object, "webhooks", "0", "clientConfig", "caBundle"); b != "" {
				t.Errorf("the rendered MutatingWebhookConfiguration carries a caBundle; the webhook owns it")
			}
		}
		applyDryRun(t, objs)
	})
}

// applyDryRun server-side applies every object with DryRun=All and reports
// each one the API server refuses.
func applyDryRun(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testContext(t), 2*time.Minute)
	defer cancel()
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(suite.client.Discovery()))
	var failed []string
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s %s: no REST mapping: %v", gvk.Kind, o.GetName(), err))
			continue
		}
		body, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var ri = suite.dynamic.Resource(m.Resource)
		var res interface {
			Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*unstructured.Unstructured, error)
		} = ri
		if m.Scope.Name() == "namespace" {
			ns := o.GetNamespace()
			if ns == "" {
				ns = "default"
			}
			res = ri.Namespace(ns)
		}
		force := true
		_, err = res.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
			DryRun: []string{metav1.DryRunAll}, FieldManager: "hdscale-e2e-dry-run", Force: &force,
		})
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s %s: %v", gvk.Kind, o.GetName(), err))
			continue
		}
	}
	t.Logf("server-side dry-run applied %d objects", len(objs)-len(failed))
	if len(failed) > 0 {
		t.Errorf("the API server refused %d of %d rendered objects:\n%s", len(failed), len(objs), strings.Join(failed, "\n"))
	}
}

func secretKeys(d map[string][]byte) []string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
