package access

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

func TestSelfSignedTLS(t *testing.T) {
	t.Parallel()
	cfg, err := SelfSignedTLS("hdscale-webhook-7c9d")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.RequestClientCert {
		t.Errorf("ClientAuth %v: the guard needs the client certificate requested, not verified by TLS", cfg.ClientAuth)
	}
	if cfg.MinVersion != tls.VersionTLS12 || len(cfg.Certificates) != 1 {
		t.Fatalf("MinVersion %x, %d certificates", cfg.MinVersion, len(cfg.Certificates))
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("hdscale-webhook-7c9d"); err != nil {
		t.Error(err)
	}
}
