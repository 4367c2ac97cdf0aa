//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/hdscale/hdscale/certs"
)

// deploymentReady reports whether d finished rolling out its current
// generation with every replica updated and available.
func deploymentReady(d *appsv1.Deployment) (bool, string) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	seen := fmt.Sprintf("%s/%s: generation %d observed %d, replicas %d updated %d ready %d available %d (want %d)",
		d.Namespace, d.Name, d.Generation, s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas, want)
	ok := s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want &&
		s.AvailableReplicas == want && s.ReadyReplicas == want
	return ok, seen
}

// waitDeploymentReady waits until ns/name is fully rolled out.
func waitDeploymentReady(t *testing.T, ns, name string, timeout time.Duration) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	waitFor(t, timeout, "Deployment "+ns+"/"+name+" to be ready", func(ctx context.Context) (bool, string, error) {
		var err error
		d, err = suite.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		ok, seen := deploymentReady(d)
		return ok, seen, nil
	})
	return d
}

// deploymentPods lists the running (not terminating) pods of a Deployment.
func deploymentPods(ctx context.Context, d *appsv1.Deployment) ([]corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	l, err := suite.client.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	return out, nil
}

// caBundles returns the caBundle of every webhook in the hdscale mutating and
// validating configurations, keyed "mutating/<webhook>" and "validating/<webhook>".
func caBundles(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	m, err := suite.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhookConfigName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	for _, w := range m.Webhooks {
		out["mutating/"+w.Name] = w.ClientConfig.CABundle
	}
	v, err := suite.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, webhookConfigName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	for _, w := range v.Webhooks {
		out["validating/"+w.Name] = w.ClientConfig.CABundle
	}
	if len(m.Webhooks) == 0 || len(v.Webhooks) == 0 {
		return out, fmt.Errorf("configuration %s has %d mutating and %d validating webhooks, want at least one each", webhookConfigName, len(m.Webhooks), len(v.Webhooks))
	}
	return out, nil
}

// tlsSecret reads hdscale-system/hdscale-webhook-tls.
func tlsSecret(ctx context.Context) (*corev1.Secret, error) {
	return suite.client.CoreV1().Secrets(systemNamespace).Get(ctx, tlsSecretName, metav1.GetOptions{})
}

// bundlesMatchSecret checks that every webhook's caBundle equals the Secret's
// published bundle (ca.crt).
func bundlesMatchSecret(ctx context.Context) (bool, string, error) {
	sec, err := tlsSecret(ctx)
	if err != nil {
		return false, "", err
	}
	want := sec.Data[certs.KeyCABundle]
	if len(want) == 0 {
		return false, fmt.Sprintf("Secret %s has no %s yet", tlsSecretName, certs.KeyCABundle), nil
	}
	got, err := caBundles(ctx)
	if err != nil {
		return false, "", err
	}
	var bad []string
	for name, b := range got {
		if !bytes.Equal(b, want) {
			bad = append(bad, fmt.Sprintf("%s (%s)", name, describeBundle(b)))
		}
	}
	if len(bad) > 0 {
		return false, fmt.Sprintf("Secret bundle %s; differing: %v", describeBundle(want), bad), nil
	}
	return true, fmt.Sprintf("%d webhooks carry the Secret's bundle %s", len(got), describeBundle(want)), nil
}

// describeBundle names the certificates of a PEM bundle by serial.
func describeBundle(b []byte) string {
	if len(b) == 0 {
		return "empty"
	}
	certs := parsePEMCerts(b)
	if len(certs) == 0 {
		return fmt.Sprintf("%d bytes, no certificates", len(b))
	}
	s := ""
	for i, c := range certs {
		if i > 0 {
			s += ","
		}
		s += serialOf(c)
	}
	return "[" + s + "]"
}

func parsePEMCerts(b []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err == nil {
			out = append(out, c)
		}
	}
}

// firstCert parses the first certificate of a PEM block (nil if none).
func firstCert(b []byte) *x509.Certificate {
	cs := parsePEMCerts(b)
	if len(cs) == 0 {
		return nil
	}
	return cs[0]
}

func serialOf(c *x509.Certificate) string {
	if c == nil {
		return "-"
	}
	s := c.SerialNumber.Text(16)
	if len(s) > 8 {
		s = s[:8]
	}
	return s
}

// webhookEndpoints counts the ready endpoints of the webhook Service.
func webhookEndpoints(ctx context.Context) (int, error) {
	l, err := suite.client.DiscoveryV1().EndpointSlices(systemNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set{discoveryv1.LabelServiceName: webhookService}.String(),
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range l.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				n++
			}
		}
	}
	return n, nil
}

// schedulerPods lists the Running pods of the hdscale-scheduler Deployment.
func schedulerPods(ctx context.Context) ([]corev1.Pod, error) {
	d, err := suite.client.AppsV1().Deployments(systemNamespace).Get(ctx, schedulerDeploy, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return deploymentPods(ctx, d)
}
