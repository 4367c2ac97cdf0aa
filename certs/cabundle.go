package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/types"
)

// webhookConfig is what caBundle upkeep needs of a Mutating- or ValidatingWebhookConfiguration.
type webhookConfig struct {
	uid             types.UID
	resourceVersion string
	webhooks        []webhookCABundle
}

type webhookCABundle struct {
	name     string
	caBundle []byte
}

func fromMutating(c *admissionregistrationv1.MutatingWebhookConfiguration) webhookConfig {
	out := webhookConfig{uid: c.UID, resourceVersion: c.ResourceVersion}
	for _, w := range c.Webhooks {
		out.webhooks = append(out.webhooks, webhookCABundle{name: w.Name, caBundle: w.ClientConfig.CABundle})
	}
	return out
}

func fromValidating(c *admissionregistrationv1.ValidatingWebhookConfiguration) webhookConfig {
	out := webhookConfig{uid: c.UID, resourceVersion: c.ResourceVersion}
	for _, w := range c.Webhooks {
		out.webhooks = append(out.webhooks, webhookCABundle{name: w.Name, caBundle: w.ClientConfig.CABundle})
	}
	return out
}

// hasBundle reports whether every webhook carries exactly want.
func (c webhookConfig) hasBundle(want []byte) bool {
	for _, w := range c.webhooks {
		if !bytes.Equal(w.caBundle, want) {
			return false
		}
	}
	return true
}

// trustsServing reports whether every webhook's caBundle lets the API server verify serving at
// now. A patch of a configuration that does not is a repair, not a routine rotation update.
func (c webhookConfig) trustsServing(serving *x509.Certificate, now time.Time) bool {
	if serving == nil {
		return false
	}
	for _, w := range c.webhooks {
		if !bundleVerifies(w.caBundle, serving, now) {
			return false
		}
	}
	return true
}

// bundleVerifies reports whether serving chains to a CA in the PEM bundle at now.
func bundleVerifies(bundle []byte, serving *x509.Certificate, now time.Time) bool {
	certs, _ := parseCertsPEM(bundle) // a partly garbled bundle may still hold the right CA
	if len(certs) == 0 {
		return false
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	_, err := serving.Verify(x509.VerifyOptions{
		Roots:       pool,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err == nil
}

type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// caBundlePatch is a JSON patch setting every webhook's caBundle in c to want. Each index is
// guarded by a test of the webhook's name, and the resourceVersion is carried so the API server
// answers 409 Conflict if the object changed since c was read. Only caBundle is written, so
// fields this client does not know survive.
func caBundlePatch(c webhookConfig, want []byte) ([]byte, error) {
	var ops []jsonPatchOp
	if c.resourceVersion != "" {
		ops = append(ops, jsonPatchOp{Op: "add", Path: "/metadata/resourceVersion", Value: c.resourceVersion})
	}
	for i, w := range c.webhooks {
		ops = append(ops,
			jsonPatchOp{Op: "test", Path: fmt.Sprintf("/webhooks/%d/name", i), Value: w.name},
			// "add" replaces an existing member and creates an absent one. []byte marshals as
			// base64, the JSON form of caBundle.
			jsonPatchOp{Op: "add", Path: fmt.Sprintf("/webhooks/%d/clientConfig/caBundle", i), Value: want},
		)
	}
	return json.Marshal(ops)
}
