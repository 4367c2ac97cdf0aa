package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	f, err := parseFlags([]string{"--namespace=hdscale-system", "--webhook-config-name=hd", "--cert-validity=48h", "--ca-validity=96h", "--scheduler-name=my-sched"})
	if err != nil {
		t.Fatal(err)
	}
	if f.webhook.ListenAddr != ":8443" || f.webhook.HealthAddr != ":8081" || f.webhook.SchedulerName != "my-sched" || f.webhook.Namespace != "hdscale-system" {
		t.Errorf("webhook options = %+v", f.webhook)
	}
	if f.certs.Namespace != "hdscale-system" || f.certs.ServiceName != "hdscale-webhook" || f.certs.SecretName != "hdscale-webhook-tls" ||
		f.certs.CertValidity != 48*time.Hour || f.certs.CAValidity != 96*time.Hour ||
		!reflect.DeepEqual(f.certs.MutatingWebhookConfigurations, []string{"hd"}) || !reflect.DeepEqual(f.certs.ValidatingWebhookConfigurations, []string{"hd"}) {
		t.Errorf("certs options = %+v", f.certs)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		args []string
		want string
	}{
		"managed TLS needs a namespace": {[]string{"--namespace="}, "Namespace is required"},
		"cert without key":              {[]string{"--tls-cert-file=/c.pem"}, "--tls-cert-file and --tls-key-file go together"},
		"bad log level":                 {[]string{"--namespace=a", "--log-level=loud"}, "log level"},
		"bad listen":                    {[]string{"--namespace=a", "--listen=8443"}, "ListenAddr"},
		"stray argument":                {[]string{"--namespace=a", "extra"}, "unexpected arguments"},
		"unknown flag":                  {[]string{"--nope"}, "flag provided but not defined"},
		"unknown metrics auth":          {[]string{"--namespace=a", "--metrics-auth=maybe"}, `--metrics-auth "maybe"`},
		"open metrics on all addresses": {[]string{"--namespace=a", "--metrics-auth=none"}, "open to the network"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parseFlags(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseFlags(%v) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
	if _, err := parseFlags([]string{"--namespace=a", "--metrics-auth=none", "--metrics-listen=127.0.0.1:8444"}); err != nil {
		t.Errorf("open metrics on loopback: %v", err)
	}
	// A static certificate needs no namespace (no Secret is managed).
	if _, err := parseFlags([]string{"--namespace=", "--tls-cert-file=/c.pem", "--tls-key-file=/k.pem"}); err != nil {
		t.Errorf("static certificate without namespace: %v", err)
	}
}
