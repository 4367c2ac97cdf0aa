package webhook

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/hdscale/hdscale/internal/serving"
)

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hdscale-webhook"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestRunServesOverTLSAndReportsReadiness(t *testing.T) {
	t.Parallel()
	cert, roots := selfSigned(t)
	client := fake.NewClientset(namespaceObj(testNamespace, perNode), poolNode("r1", "runtime", "4"))
	release := make(chan struct{})
	client.PrependReactor("list", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		<-release
		return false, nil, nil
	})
	type addrs struct{ webhook, health, metrics string }
	bound := make(chan addrs, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	reg := serving.NewRegistry()
	go func() {
		done <- Run(ctx, Options{
			ListenAddr: "127.0.0.1:0", HealthAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0",
			ReadyChecks: map[string]serving.Check{"tls": func() error { return nil }},
			Listening:   func(a Addrs) { bound <- addrs{a.Webhook.String(), a.Health.String(), a.Metrics.String()} },
		}, client, logr.Discard(), reg, func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil })
	}()
	a := <-bound
	get := func(path string) (int, string) {
		host := a.health
		if path == "/metrics" {
			host = a.metrics
		}
		resp, err := http.Get("http://" + host + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, "the health server", func() bool {
		resp, err := http.Get("http://" + a.health + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "informers: informer caches not synced: ") || !strings.Contains(body, "namespaces") {
		t.Fatalf("readyz before sync = %d %q", code, body)
	}
	close(release)
	waitFor(t, "readiness", func() bool { code, _ := get("/readyz"); return code == http.StatusOK })

	https := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	body := reviewBody(t, podRequest(readCase(t, "compose-runtime")))
	var resp *http.Response
	waitFor(t, "the webhook server", func() bool {
		var err error
		resp, err = https.Post("https://"+a.webhook+PathMutate, "application/json", bytes.NewReader(body))
		return err == nil
	})
	var review admissionv1.AdmissionReview
	err := json.NewDecoder(resp.Body).Decode(&review)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || review.Response == nil || !review.Response.Allowed || len(review.Response.Patch) == 0 {
		t.Fatalf("mutate over TLS: %d %v %+v", resp.StatusCode, err, review.Response)
	}
	if code, _ := get("/metrics"); code != http.StatusOK {
		t.Errorf("/metrics on the loopback metrics listener = %d", code)
	}
	if resp, err := http.Get("http://" + a.health + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the health listener: %v %v, want 404 (metrics are private)", err, resp)
	}
	if code, metrics := get("/metrics"); code != http.StatusOK ||
		!strings.Contains(metrics, `hdscale_webhook_admissions_total{mode="enforce",pattern="per-node",result="mutated"} 1`) ||
		!strings.Contains(metrics, `hdscale_webhook_pool_nodes{pool="runtime"} 1`) {
		t.Errorf("metrics = %d\n%s", code, metrics)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v after cancel", err)
	}
}

func TestRunRejectsBadSetup(t *testing.T) {
	t.Parallel()
	cert, _ := selfSigned(t)
	get := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
	client := fake.NewClientset()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() }) // not defer: the parallel subtests run after this function returns
	tests := map[string]struct {
		opts Options
		reg  bool
		get  func(*tls.ClientHelloInfo) (*tls.Certificate, error)
		want string
	}{
		"bad options":    {opts: Options{ListenAddr: "nope"}, reg: true, get: get, want: "ListenAddr"},
		"nil registry":   {opts: Options{ListenAddr: "127.0.0.1:0", HealthAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0"}, get: get, want: "nil registry"},
		"no certificate": {opts: Options{ListenAddr: "127.0.0.1:0", HealthAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0"}, reg: true, want: "no certificate source"},
		"missing config": {opts: Options{ListenAddr: "127.0.0.1:0", HealthAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", ConfigPath: "/nonexistent/config.yaml"}, reg: true, get: get, want: "reading config"},
		"port in use":    {opts: Options{ListenAddr: busy.Addr().String(), HealthAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0"}, reg: true, get: get, want: "listening on " + busy.Addr().String()},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var reg = serving.NewRegistry()
			if !tt.reg {
				reg = nil
			}
			err := Run(t.Context(), tt.opts, client, logr.Discard(), reg, tt.get)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
