package certs

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestWebhookConfigBundleChecks(t *testing.T) {
	t.Parallel()
	o := e2eOptions(nil)
	st := phase2State(t, t0, t0.Add(3*time.Minute), t0.Add(3*time.Minute+15*time.Second), o)
	now := t0.Add(3*time.Minute + 20*time.Second)
	both := st.Bundle()
	newOnly := encodeCertPEM(st.CA.Cert.Raw)
	oldOnly := encodeCertPEM(st.PrevCA.Raw)
	cfg := func(bundles ...[]byte) webhookConfig {
		var c webhookConfig
		for i, b := range bundles {
			c.webhooks = append(c.webhooks, webhookCABundle{name: string(rune('a'+i)) + ".hdscale.io", caBundle: b})
		}
		return c
	}
	tests := []struct {
		name        string
		cfg         webhookConfig
		wantCurrent bool // hasBundle(both)
		wantTrusts  bool // trustsServing
	}{
		{name: "no webhooks", cfg: cfg(), wantCurrent: true, wantTrusts: true},
		{name: "all current", cfg: cfg(both, both), wantCurrent: true, wantTrusts: true},
		{name: "one emptied by a re-applied manifest", cfg: cfg(both, nil), wantTrusts: false},
		{name: "new CA only: not current but trusted (rotation update)", cfg: cfg(newOnly), wantTrusts: true},
		{name: "old CA only: broken (repair)", cfg: cfg(oldOnly), wantTrusts: false},
		{name: "right CA followed by garbage still trusts", cfg: cfg(append(slices.Clone(newOnly), "garbage"...)), wantTrusts: true},
		{name: "garbage", cfg: cfg([]byte("not a bundle")), wantTrusts: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.cfg.hasBundle(both); got != tc.wantCurrent {
				t.Errorf("hasBundle = %v, want %v", got, tc.wantCurrent)
			}
			if got := tc.cfg.trustsServing(st.Serving.Cert, now); got != tc.wantTrusts {
				t.Errorf("trustsServing = %v, want %v", got, tc.wantTrusts)
			}
		})
	}
	if cfg(both).trustsServing(nil, now) {
		t.Error("trustsServing(nil) = true")
	}
}

func TestCABundlePatch(t *testing.T) {
	t.Parallel()
	want := []byte("-----BEGIN CERTIFICATE-----\nnew\n-----END CERTIFICATE-----\n")
	webhook := func(name string, bundle []byte) admissionregistrationv1.MutatingWebhook {
		return admissionregistrationv1.MutatingWebhook{Name: name, ClientConfig: admissionregistrationv1.WebhookClientConfig{CABundle: bundle}}
	}
	tests := []struct {
		name      string
		read      admissionregistrationv1.MutatingWebhookConfiguration // what the patch is built from
		live      admissionregistrationv1.MutatingWebhookConfiguration // what it is applied to
		wantApply bool
	}{
		{
			name:      "sets every webhook, empty or stale",
			read:      mwc("7", webhook("a.hdscale.io", nil), webhook("b.hdscale.io", []byte("old"))),
			live:      mwc("7", webhook("a.hdscale.io", nil), webhook("b.hdscale.io", []byte("old"))),
			wantApply: true,
		},
		{
			name:      "reordered webhooks fail the name test",
			read:      mwc("7", webhook("a.hdscale.io", nil), webhook("b.hdscale.io", nil)),
			live:      mwc("7", webhook("b.hdscale.io", nil), webhook("a.hdscale.io", nil)),
			wantApply: false,
		},
		{
			name:      "no resourceVersion (fake clients)",
			read:      mwc("", webhook("a.hdscale.io", nil)),
			live:      mwc("", webhook("a.hdscale.io", nil)),
			wantApply: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			read := tc.read
			data, err := caBundlePatch(fromMutating(&read), want)
			if err != nil {
				t.Fatal(err)
			}
			patch, err := jsonpatch.DecodePatch(data)
			if err != nil {
				t.Fatalf("not a JSON patch: %v\n%s", err, data)
			}
			doc, err := json.Marshal(tc.live)
			if err != nil {
				t.Fatal(err)
			}
			out, err := patch.Apply(doc)
			if !tc.wantApply {
				if err == nil {
					t.Fatal("patch applied, want a failed test op")
				}
				return
			}
			if err != nil {
				t.Fatalf("apply: %v\n%s", err, data)
			}
			var got admissionregistrationv1.MutatingWebhookConfiguration
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if got.ResourceVersion != tc.read.ResourceVersion {
				t.Errorf("resourceVersion %q, want the one read (%q) as precondition", got.ResourceVersion, tc.read.ResourceVersion)
			}
			for _, w := range got.Webhooks {
				if !bytes.Equal(w.ClientConfig.CABundle, want) {
					t.Errorf("webhook %s caBundle %q, want %q", w.Name, w.ClientConfig.CABundle, want)
				}
			}
		})
	}
}

func mwc(rv string, webhooks ...admissionregistrationv1.MutatingWebhook) admissionregistrationv1.MutatingWebhookConfiguration {
	return admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "hdscale", ResourceVersion: rv},
		Webhooks:   webhooks,
	}
}
