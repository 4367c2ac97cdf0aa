package certs

import (
	"strings"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

func TestOptionsDefault(t *testing.T) {
	t.Parallel()
	var o Options
	o.Default()
	if o.SecretName != DefaultSecretName || o.ClusterDomain != DefaultClusterDomain ||
		o.CAValidity != DefaultCAValidity || o.CertValidity != DefaultCertValidity ||
		o.RotateFraction != DefaultRotateFraction || o.PropagationDelay != DefaultPropagationDelay ||
		o.Overlap != DefaultOverlap || o.ResyncPeriod != DefaultResyncPeriod || o.Clock == nil {
		t.Fatalf("Default left fields unset: %+v", o)
	}
	o.Namespace, o.ServiceName = "hdscale-system", "hdscale-webhook"
	if err := o.Validate(); err != nil {
		t.Fatalf("defaulted options with names must validate: %v", err)
	}

	custom := Options{CAValidity: time.Hour, SecretName: "x"}
	custom.Default()
	if custom.CAValidity != time.Hour || custom.SecretName != "x" {
		t.Fatalf("Default overwrote set fields: %+v", custom)
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	clk := testingclock.NewFakeClock(t0)
	tests := []struct {
		name    string
		mutate  func(*Options)
		wantErr []string // substrings; none means valid
	}{
		{name: "e2e durations are valid", mutate: func(*Options) {}},
		{name: "production defaults are valid", mutate: func(o *Options) {
			o.CAValidity, o.CertValidity = DefaultCAValidity, DefaultCertValidity
			o.PropagationDelay, o.Overlap = DefaultPropagationDelay, DefaultOverlap
		}},
		{name: "no configurations is valid", mutate: func(o *Options) {
			o.MutatingWebhookConfigurations, o.ValidatingWebhookConfigurations = nil, nil
		}},
		{name: "wildcard extra name", mutate: func(o *Options) { o.ExtraDNSNames = []string{"*.example.com", "webhook.example.com"} }},
		{name: "RotateBefore instead of fraction", mutate: func(o *Options) { o.RotateBefore = time.Minute }},
		{name: "missing names", mutate: func(o *Options) { o.Namespace, o.ServiceName, o.SecretName = "", "", "" },
			wantErr: []string{"Namespace is required", "ServiceName is required", "SecretName is required"}},
		{name: "invalid names", mutate: func(o *Options) {
			o.Namespace, o.ServiceName = "Bad_NS", "1svc"
			o.ExtraDNSNames = []string{"not a name"}
			o.ValidatingWebhookConfigurations = []string{"UPPER"}
		}, wantErr: []string{`Namespace "Bad_NS" is invalid`, `ServiceName "1svc" is invalid`, `ExtraDNSNames entry "not a name"`, `ValidatingWebhookConfigurations entry "UPPER"`}},
		{name: "duplicate configuration", mutate: func(o *Options) { o.MutatingWebhookConfigurations = []string{"a", "a"} },
			wantErr: []string{`MutatingWebhookConfigurations lists "a" twice`}},
		{name: "non-positive durations", mutate: func(o *Options) {
			o.CAValidity, o.CertValidity, o.PropagationDelay, o.Overlap, o.ResyncPeriod = 0, -1, 0, 0, 0
		}, wantErr: []string{"CAValidity must be positive", "CertValidity must be positive", "PropagationDelay must be positive", "Overlap must be positive", "ResyncPeriod must be positive"}},
		{name: "serving outlives CA", mutate: func(o *Options) { o.CertValidity = 10 * time.Minute },
			wantErr: []string{"CertValidity 10m0s must not exceed CAValidity 5m0s"}},
		{name: "fraction out of range", mutate: func(o *Options) { o.RotateFraction = 0.95 },
			wantErr: []string{"RotateFraction must be in (0, 0.8]"}},
		{name: "RotateBefore too long", mutate: func(o *Options) { o.RotateBefore = 2 * time.Minute },
			wantErr: []string{"RotateBefore 2m0s must be shorter than CertValidity 2m0s"}},
		{name: "negative RotateBefore", mutate: func(o *Options) { o.RotateBefore = -time.Second },
			wantErr: []string{"RotateBefore must not be negative"}},
		{name: "CA rotation cannot finish in time", mutate: func(o *Options) { o.PropagationDelay, o.Overlap = time.Minute, time.Minute },
			wantErr: []string{"must exceed PropagationDelay+Overlap (2m0s)"}},
		{name: "nil clock", mutate: func(o *Options) { o.Clock = nil }, wantErr: []string{"Clock is nil"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := e2eOptions(clk)
			tc.mutate(&o)
			err := o.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestDNSNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    Options
		want []string
	}{
		{
			name: "service names",
			o:    Options{Namespace: "hdscale-system", ServiceName: "hdscale-webhook"},
			want: []string{"hdscale-webhook", "hdscale-webhook.hdscale-system", "hdscale-webhook.hdscale-system.svc", "hdscale-webhook.hdscale-system.svc.cluster.local"},
		},
		{
			name: "custom domain, extras deduplicated and lower-cased",
			o: Options{Namespace: "ns", ServiceName: "svc", ClusterDomain: "corp.example",
				ExtraDNSNames: []string{"svc.ns.svc", "Webhook.Example.com", "webhook.example.com"}},
			want: []string{"svc", "svc.ns", "svc.ns.svc", "svc.ns.svc.corp.example", "webhook.example.com"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.o.DNSNames(); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("DNSNames() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNameSets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		have, want  []string
		wantMissing []string
		wantUnion   []string
	}{
		{name: "superset", have: []string{"a", "b", "c"}, want: []string{"a", "b"}, wantUnion: []string{"a", "b", "c"}},
		{name: "missing one", have: []string{"a", "z"}, want: []string{"a", "b"}, wantMissing: []string{"b"}, wantUnion: []string{"a", "b", "z"}},
		{name: "case-insensitive", have: []string{"A"}, want: []string{"a"}, wantUnion: []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := missingNames(tc.have, tc.want); strings.Join(got, ",") != strings.Join(tc.wantMissing, ",") {
				t.Errorf("missingNames = %v, want %v", got, tc.wantMissing)
			}
			if got := unionNames(tc.want, tc.have); strings.Join(got, ",") != strings.Join(tc.wantUnion, ",") {
				t.Errorf("unionNames = %v, want %v", got, tc.wantUnion)
			}
		})
	}
}
