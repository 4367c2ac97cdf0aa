package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewCA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		validity     time.Duration
		wantBackdate time.Duration
	}{
		{name: "five years", validity: DefaultCAValidity, wantBackdate: 5 * time.Minute},
		{name: "five minutes (e2e)", validity: 5 * time.Minute, wantBackdate: 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ca := mustCA(t, t0, tc.validity)
			c := ca.Cert
			if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
				t.Errorf("basic constraints: IsCA=%v valid=%v MaxPathLen=%d zero=%v", c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
			}
			if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
				t.Errorf("KeyUsage = %v, want CertSign|CRLSign", c.KeyUsage)
			}
			if !c.NotBefore.Equal(t0.Add(-tc.wantBackdate)) || !c.NotAfter.Equal(t0.Add(tc.validity)) {
				t.Errorf("validity [%v, %v], want [%v, %v]", c.NotBefore, c.NotAfter, t0.Add(-tc.wantBackdate), t0.Add(tc.validity))
			}
			if k, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
				t.Errorf("public key %T, want ECDSA P-256", c.PublicKey)
			}
			if err := c.CheckSignatureFrom(c); err != nil {
				t.Errorf("CA is not self-signed: %v", err)
			}
			if len(c.SubjectKeyId) == 0 {
				t.Error("CA has no SubjectKeyId")
			}
			if c.SerialNumber.Sign() <= 0 {
				t.Errorf("serial %v must be positive", c.SerialNumber)
			}
			if err := isCA(c); err != nil {
				t.Errorf("isCA: %v", err)
			}
		})
	}
}

func TestNewServingCert(t *testing.T) {
	t.Parallel()
	o := e2eOptions(nil)
	names := o.DNSNames()
	tests := []struct {
		name         string
		caValidity   time.Duration
		validity     time.Duration
		names        []string
		wantNotAfter func(ca *KeyPair) time.Time
		verifyAs     []string // each must verify
		rejectAs     []string // each must fail name verification
	}{
		{
			name: "production lifetimes", caValidity: DefaultCAValidity, validity: DefaultCertValidity, names: names,
			wantNotAfter: func(*KeyPair) time.Time { return t0.Add(DefaultCertValidity) },
			verifyAs:     names,
			rejectAs:     []string{"other.hdscale-system.svc", "hdscale-webhook.default.svc"},
		},
		{
			name: "capped at the CA's NotAfter", caValidity: 30 * time.Minute, validity: DefaultCertValidity, names: names,
			wantNotAfter: func(ca *KeyPair) time.Time { return ca.Cert.NotAfter },
			verifyAs:     names[:1],
		},
		{
			name: "extra and wildcard SANs", caValidity: 5 * time.Minute, validity: 2 * time.Minute,
			names:        append(slices.Clone(names), "*.example.com"),
			wantNotAfter: func(*KeyPair) time.Time { return t0.Add(2 * time.Minute) },
			verifyAs:     []string{"webhook.example.com", "hdscale-webhook.hdscale-system.svc.cluster.local"},
			rejectAs:     []string{"a.b.example.com"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ca := mustCA(t, t0, tc.caValidity)
			kp := mustServing(t, ca, t0, tc.validity, tc.names)
			c := kp.Cert
			if !slices.Equal(c.DNSNames, tc.names) {
				t.Errorf("DNSNames = %v, want %v", c.DNSNames, tc.names)
			}
			if c.IsCA || !c.BasicConstraintsValid {
				t.Errorf("IsCA=%v BasicConstraintsValid=%v, want a leaf", c.IsCA, c.BasicConstraintsValid)
			}
			if c.KeyUsage != x509.KeyUsageDigitalSignature || !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("KeyUsage=%v ExtKeyUsage=%v, want DigitalSignature and ServerAuth", c.KeyUsage, c.ExtKeyUsage)
			}
			if want := tc.wantNotAfter(ca); !c.NotAfter.Equal(want) {
				t.Errorf("NotAfter = %v, want %v", c.NotAfter, want)
			}
			if want := t0.Add(-backdate(tc.validity)); !c.NotBefore.Equal(want) {
				t.Errorf("NotBefore = %v, want %v (backdated)", c.NotBefore, want)
			}
			if !bytes.Equal(c.AuthorityKeyId, ca.Cert.SubjectKeyId) {
				t.Error("AuthorityKeyId does not name the CA")
			}
			if _, ok := kp.Key.(*ecdsa.PrivateKey); !ok {
				t.Errorf("key %T, want ECDSA", kp.Key)
			}
			bundle := encodeCertPEM(ca.Cert.Raw)
			for _, n := range tc.verifyAs {
				if err := verifyServing(c, bundle, n, t0); err != nil {
					t.Errorf("verify as %q with the bundle: %v", n, err)
				}
			}
			for _, n := range tc.rejectAs {
				if err := verifyServing(c, bundle, n, t0); err == nil {
					t.Errorf("verify as %q succeeded, want a name mismatch", n)
				}
			}
			other := mustCA(t, t0, tc.caValidity)
			if err := verifyServing(c, encodeCertPEM(other.Cert.Raw), tc.names[0], t0); err == nil {
				t.Error("verified against an unrelated CA")
			}
			if err := verifyServing(c, bundle, tc.names[0], c.NotAfter.Add(time.Second)); err == nil {
				t.Error("verified after NotAfter")
			}
		})
	}
}

func TestNewServingCertErrors(t *testing.T) {
	t.Parallel()
	ca := mustCA(t, t0, time.Hour)
	tests := []struct {
		name  string
		ca    *KeyPair
		names []string
		want  string
	}{
		{name: "no CA", ca: nil, names: []string{"a"}, want: "no CA"},
		{name: "no names", ca: ca, names: nil, want: "no DNS names"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := newServingCert(tc.ca, t0, time.Minute, tc.names); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSerialsAreRandom(t *testing.T) {
	t.Parallel()
	ca := mustCA(t, t0, time.Hour)
	a := mustServing(t, ca, t0, time.Minute, []string{"a"})
	b := mustServing(t, ca, t0, time.Minute, []string{"a"})
	if a.Cert.SerialNumber.Cmp(b.Cert.SerialNumber) == 0 {
		t.Fatal("two certificates got the same serial")
	}
	if a.Cert.SerialNumber.BitLen() < 64 {
		t.Fatalf("serial %v has under 64 random bits", a.Cert.SerialNumber)
	}
}

func TestParseKeyPair(t *testing.T) {
	t.Parallel()
	ca := mustCA(t, t0, time.Hour)
	other := mustCA(t, t0, time.Hour)
	ecKey := func() []byte { // the SEC 1 "EC PRIVATE KEY" form of ca's key
		der, err := x509.MarshalECPrivateKey(ca.Key.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		return pemBlock(pemTypeECKey, der)
	}()
	tests := []struct {
		name      string
		cert, key []byte
		want      string // error substring, "" for success
	}{
		{name: "PKCS#8 key", cert: ca.CertPEM, key: ca.KeyPEM},
		{name: "SEC 1 key", cert: ca.CertPEM, key: ecKey},
		{name: "mismatched key", cert: ca.CertPEM, key: other.KeyPEM, want: "does not match"},
		{name: "two certificates", cert: append(slices.Clone(ca.CertPEM), other.CertPEM...), key: ca.KeyPEM, want: "exactly one"},
		{name: "garbage certificate", cert: []byte("nope"), key: ca.KeyPEM, want: "not PEM"},
		{name: "missing key", cert: ca.CertPEM, key: nil, want: "key: missing"},
		{name: "unsupported key block", cert: ca.CertPEM, key: pemBlock("PUBLIC KEY", []byte{1}), want: "unsupported PEM block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kp, err := parseKeyPair(tc.cert, tc.key)
			if tc.want == "" {
				if err != nil || !kp.Cert.Equal(ca.Cert) {
					t.Fatalf("parseKeyPair: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
