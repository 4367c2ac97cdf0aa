package certs

import (
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestServerTLSConfig(t *testing.T) {
	t.Parallel()
	get := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil }
	cfg := ServerTLSConfig(get)
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
	}
	if cfg.GetCertificate == nil || len(cfg.Certificates) != 0 {
		t.Error("certificates must come from GetCertificate only")
	}
	insecure := tls.InsecureCipherSuites()
	for _, id := range cfg.CipherSuites {
		name := tls.CipherSuiteName(id)
		if slices.ContainsFunc(insecure, func(s *tls.CipherSuite) bool { return s.ID == id }) {
			t.Errorf("insecure suite %s offered", name)
		}
		for _, s := range tls.CipherSuites() {
			if s.ID == id && (!slices.Contains(s.SupportedVersions, tls.VersionTLS12) || !isECDHEAEAD(name)) {
				t.Errorf("suite %s is not an ECDHE AEAD TLS 1.2 suite", name)
			}
		}
	}
	// Each call returns an independent config.
	cfg.CipherSuites[0] = 0
	if ServerTLSConfig(get).CipherSuites[0] == 0 {
		t.Error("ServerTLSConfig shares its cipher suite slice")
	}
}

func isECDHEAEAD(name string) bool {
	return strings.HasPrefix(name, "TLS_ECDHE_") && (strings.Contains(name, "_GCM_") || strings.Contains(name, "_CHACHA20_POLY1305"))
}

// TestServerTLSHandshake runs real handshakes over an in-memory pipe against a server using
// ServerTLSConfig with a certificate from this package.
func TestServerTLSHandshake(t *testing.T) {
	t.Parallel()
	o := e2eOptions(nil)
	now := time.Now()
	st := stableState(t, now, o)
	serving := &tls.Certificate{Certificate: [][]byte{st.Serving.Cert.Raw}, PrivateKey: st.Serving.Key, Leaf: st.Serving.Cert}
	server := ServerTLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return serving, nil })
	roots := poolOf(st.CA.Cert)
	other := poolOf(mustCA(t, now, o.CAValidity).Cert)

	tests := []struct {
		name    string
		client  *tls.Config
		wantErr bool
	}{
		{name: "TLS 1.3", client: &tls.Config{RootCAs: roots, ServerName: "hdscale-webhook.hdscale-system.svc"}},
		{name: "TLS 1.2 with an AEAD ECDHE suite", client: &tls.Config{RootCAs: roots, ServerName: "hdscale-webhook.hdscale-system.svc",
			MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}},
		{name: "TLS 1.1 refused", client: &tls.Config{RootCAs: roots, ServerName: "hdscale-webhook.hdscale-system.svc",
			MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, wantErr: true},
		{name: "TLS 1.2 CBC suite refused", client: &tls.Config{RootCAs: roots, ServerName: "hdscale-webhook.hdscale-system.svc",
			MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, wantErr: true},
		{name: "untrusted CA", client: &tls.Config{RootCAs: other, ServerName: "hdscale-webhook.hdscale-system.svc"}, wantErr: true},
		{name: "name not in SANs", client: &tls.Config{RootCAs: roots, ServerName: "evil.example.com"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := handshake(t, server, tc.client)
			if (err != nil) != tc.wantErr {
				t.Fatalf("handshake error = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}

// handshake runs a TLS handshake between server and client over net.Pipe and returns the
// client's error.
func handshake(t *testing.T, server, client *tls.Config) error {
	t.Helper()
	sc, cc := net.Pipe()
	deadline := time.Now().Add(10 * time.Second) // guards against a hung test only
	_ = sc.SetDeadline(deadline)
	_ = cc.SetDeadline(deadline)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = tls.Server(sc, server).Handshake()
		_ = sc.Close()
	}()
	err := tls.Client(cc, client).Handshake()
	// Closing the raw connection (not the TLS one, whose close_notify would wait for a reader)
	// also unblocks a server still writing TLS 1.3 session tickets.
	_ = cc.Close()
	<-done
	return err
}
