package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// writeTLSDir writes ca.crt, tls.crt and tls.key (a self-signed
// certificate for hosts) into a temporary directory.
func writeTLSDir(t *testing.T, hosts ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	crt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for name, b := range map[string][]byte{"ca.crt": crt, "tls.crt": crt, "tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeCluster is a fake clientset whose Deployments report every replica
// ready (no controllers run in it).
func fakeCluster() *fake.Clientset {
	cs := fake.NewClientset()
	cs.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj, err := cs.Tracker().Get(appsv1.SchemeGroupVersion.WithResource("deployments"), a.GetNamespace(), a.(k8stesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		r := *d.Spec.Replicas
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: r, UpdatedReplicas: r, ReadyReplicas: r}
		return true, d, nil
	})
	return cs
}

func bothHosts() []string {
	return []string{serviceHost(noopName), serviceHost(noopPatchName)}
}

func TestApplyNoopIsIdempotentAndTornDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs := fakeCluster()
	o, err := parseOptions([]string{"-noop-image", "bench/noop:1", "-noop-tls-dir", writeTLSDir(t, bothHosts()...)})
	if err != nil {
		t.Fatal(err)
	}
	s := &setup{client: cs, opts: o}
	for i := 0; i < 2; i++ { // the second run finds everything there
		if err := s.applyNoop(ctx); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
	}
	deps, err := cs.AppsV1().Deployments(noopSystemNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	args := map[string][]string{}
	for _, d := range deps.Items {
		args[d.Name] = d.Spec.Template.Spec.Containers[0].Args
	}
	base := []string{"-listen=:8443", "-tls-cert-file=/tls/tls.crt", "-tls-key-file=/tls/tls.key"}
	if want := map[string][]string{noopName: base, noopPatchName: append(base[:3:3], "-patch-annotation=bench.hdscale.io/noop=1")}; !reflect.DeepEqual(args, want) {
		t.Errorf("deployments' args %v, want %v", args, want)
	}
	for _, name := range []string{noopName, noopPatchName} {
		svc, err := cs.CoreV1().Services(noopSystemNS).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Spec.Selector["app.kubernetes.io/name"] != name {
			t.Errorf("service %s selects %v", name, svc.Spec.Selector)
		}
		mwc, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(mwc.Webhooks) != 1 || mwc.Webhooks[0].ClientConfig.Service.Name != name {
			t.Errorf("webhook configuration %s: %+v", name, mwc.Webhooks)
		}
	}
	if err := s.teardown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{noopName, noopPatchName} {
		if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s after teardown: %v", name, err)
		}
	}
}

func TestApplyNoopChecksTheCertificate(t *testing.T) {
	t.Parallel()
	// A certificate from before noop-patch: only the plain Service's names.
	dir := writeTLSDir(t, serviceHost(noopName), serviceHost(noopName)+".cluster.local")
	o, err := parseOptions([]string{"-noop-image", "img", "-noop-tls-dir", dir})
	if err != nil {
		t.Fatal(err)
	}
	err = (&setup{client: fakeCluster(), opts: o}).applyNoop(context.Background())
	if err == nil || !strings.Contains(err.Error(), "variant noop-patch") || !strings.Contains(err.Error(), serviceHost(noopPatchName)) {
		t.Errorf("err %v, want one naming noop-patch and its host", err)
	}
	// Without the variant, the old certificate does.
	o, err = parseOptions([]string{"-variants", "none,noop", "-noop-image", "img", "-noop-tls-dir", dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&setup{client: fakeCluster(), opts: o}).applyNoop(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestNoopServersDifferOnlyInThePatch: the two no-op webhooks have the same
// settings (copied from hdscale's when it is there) but for names, scope and
// the patch flag.
func TestNoopServersDifferOnlyInThePatch(t *testing.T) {
	t.Parallel()
	never := admissionregistrationv1.NeverReinvocationPolicy
	ignore := admissionregistrationv1.Ignore
	timeout := int32(3)
	replicas := int32(3)
	hook := &admissionregistrationv1.MutatingWebhook{AdmissionReviewVersions: []string{"v1"}, TimeoutSeconds: &timeout,
		FailurePolicy: &ignore, ReinvocationPolicy: &never,
		MatchConditions: []admissionregistrationv1.MatchCondition{{Name: "x", Expression: "true"}}}
	dep := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		PriorityClassName: "system-cluster-critical",
		Containers: []corev1.Container{{Name: "webhook", Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}},
	}}}}
	for _, s := range []*setup{{opts: options{noopImage: "img"}}, {opts: options{noopImage: "img"}, hdscaleHook: hook, hdscaleDep: dep}} {
		plain, _ := noopServerOf("noop")
		patch, ok := noopServerOf("noop-patch")
		if !ok {
			t.Fatal("no server for noop-patch")
		}
		wp, we := s.noopWebhook(plain, []byte("ca")), s.noopWebhook(patch, []byte("ca"))
		if we.Name == wp.Name || we.ClientConfig.Service.Name != noopPatchName ||
			we.NamespaceSelector.MatchLabels[nameLabel] != variantNamespaces["noop-patch"] {
			t.Errorf("patching webhook %+v", we)
		}
		we.Name, we.ClientConfig.Service.Name, we.NamespaceSelector = wp.Name, wp.ClientConfig.Service.Name, wp.NamespaceSelector
		if !reflect.DeepEqual(wp, we) {
			t.Errorf("webhooks differ beyond name and scope:\n%+v\n%+v", wp, we)
		}
		if s.hdscaleHook != nil && (*wp.FailurePolicy != ignore || *wp.ReinvocationPolicy != never || *wp.TimeoutSeconds != 3 || len(wp.MatchConditions) != 1) {
			t.Errorf("hdscale's settings not copied: %+v", wp)
		}
		dp := s.noopDeployment(plain, map[string]string{"app.kubernetes.io/name": plain.name})
		de := s.noopDeployment(patch, map[string]string{"app.kubernetes.io/name": patch.name})
		if de.Name != noopPatchName || de.Namespace != noopSystemNS {
			t.Errorf("deployment %s/%s", de.Namespace, de.Name)
		}
		c := &de.Spec.Template.Spec.Containers[0]
		if n := len(c.Args); n == 0 || c.Args[n-1] != "-patch-annotation="+noopPatchAnnotation+"=1" {
			t.Errorf("args %v", c.Args)
		}
		c.Args = c.Args[:len(c.Args)-1]
		de.Name = dp.Name
		de.Spec.Selector, de.Spec.Template.Labels = dp.Spec.Selector, dp.Spec.Template.Labels
		de.Spec.Template.Spec.TopologySpreadConstraints = dp.Spec.Template.Spec.TopologySpreadConstraints
		if !reflect.DeepEqual(dp, de) {
			t.Errorf("deployments differ beyond name, labels and the flag:\n%+v\n%+v", dp, de)
		}
		if s.hdscaleDep != nil && (*dp.Spec.Replicas != 3 || dp.Spec.Template.Spec.PriorityClassName != "system-cluster-critical") {
			t.Errorf("hdscale's deployment settings not copied: %+v", dp.Spec)
		}
	}
}
