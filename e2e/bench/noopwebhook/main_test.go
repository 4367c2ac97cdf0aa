package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandlerAllowsWithTheRequestUID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		code       int
		uid        string
	}{
		{"review", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"4a6ef1c2-6a61","object":{"kind":"Pod"}}}`, 200, "4a6ef1c2-6a61"},
		{"uid needing escapes", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"a\"b"}}`, 200, `a"b`},
		{"no request", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, 400, ""},
		{"wrong kind", `{"apiVersion":"v1","kind":"Pod","request":{"uid":"x"}}`, 400, ""},
		{"not json", `{`, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHandler()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/mutate", strings.NewReader(tc.body)))
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.code, rec.Body)
			}
			if tc.code != 200 {
				return
			}
			var out struct {
				APIVersion, Kind string
				Response         struct {
					UID     string `json:"uid"`
					Allowed bool   `json:"allowed"`
				}
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("%v: %s", err, rec.Body)
			}
			if out.Response.UID != tc.uid || !out.Response.Allowed || out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" {
				t.Errorf("answer %s", rec.Body)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	hwm, rss := parseStatus(strings.NewReader("Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t    1024 kB\n"))
	if hwm != 20480<<10 || rss != 1024<<10 {
		t.Errorf("hwm %d rss %d", hwm, rss)
	}
}

func TestGenerateServesTheHosts(t *testing.T) {
	t.Parallel()
	caPEM, certPEM, keyPEM, err := generate([]string{"noop.ns.svc", "127.0.0.1"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("bad CA PEM")
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"noop.ns.svc", "127.0.0.1"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
}
