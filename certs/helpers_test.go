package certs

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"k8s.io/utils/clock"
)

// t0 is the fixed start of pure tests' timelines.
var t0 = time.Date(2030, time.March, 1, 12, 0, 0, 0, time.UTC)

// e2eOptions are the short durations an e2e test would use, defaulted.
func e2eOptions(clk clock.Clock) Options {
	o := Options{
		Namespace:                       "hdscale-system",
		SecretName:                      "hdscale-webhook-tls",
		ServiceName:                     "hdscale-webhook",
		MutatingWebhookConfigurations:   []string{"hdscale"},
		ValidatingWebhookConfigurations: []string{"hdscale"},
		CAValidity:                      5 * time.Minute,
		CertValidity:                    2 * time.Minute,
		PropagationDelay:                10 * time.Second,
		Overlap:                         20 * time.Second,
		ResyncPeriod:                    time.Minute,
		Clock:                           clk,
	}
	o.Default()
	return o
}

func mustCA(t *testing.T, now time.Time, validity time.Duration) *KeyPair {
	t.Helper()
	ca, err := newCA(now, validity)
	if err != nil {
		t.Fatalf("newCA: %v", err)
	}
	return ca
}

func mustServing(t *testing.T, ca *KeyPair, now time.Time, validity time.Duration, names []string) *KeyPair {
	t.Helper()
	kp, err := newServingCert(ca, now, validity, names)
	if err != nil {
		t.Fatalf("newServingCert: %v", err)
	}
	return kp
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// verifyServing verifies serving for dnsName against the PEM bundle at now.
func verifyServing(serving *x509.Certificate, bundle []byte, dnsName string, now time.Time) error {
	certs, err := parseCertsPEM(bundle)
	if err != nil {
		return err
	}
	_, err = serving.Verify(x509.VerifyOptions{
		Roots:       poolOf(certs...),
		DNSName:     dnsName,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// stableState is a fresh stable state issued at now.
func stableState(t *testing.T, now time.Time, o Options) State {
	t.Helper()
	ca := mustCA(t, now, o.CAValidity)
	return State{CA: ca, Serving: mustServing(t, ca, now, o.CertValidity, o.DNSNames())}
}

// phase1State is a stable state issued at issued whose rotation started at started.
func phase1State(t *testing.T, issued, started time.Time, o Options) State {
	t.Helper()
	st := stableState(t, issued, o)
	st.NextCA = mustCA(t, started, o.CAValidity)
	st.RotationStartedAt = started
	return st
}

// phase2State is phase1State switched at switched.
func phase2State(t *testing.T, issued, started, switched time.Time, o Options) State {
	t.Helper()
	st := phase1State(t, issued, started, o)
	st.BundlePublishedAt = started
	st.PrevCA, st.CA, st.NextCA = st.CA.Cert, st.NextCA, nil
	st.Serving = mustServing(t, st.CA, switched, o.CertValidity, o.DNSNames())
	st.SwitchedAt = switched
	return st
}
