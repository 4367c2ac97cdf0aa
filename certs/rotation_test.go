package certs

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

// simVersion is one version of the Secret in a simulated timeline.
type simVersion struct {
	from    time.Time
	bundle  []byte
	serving *x509.Certificate
}

type simResult struct {
	actions   map[ActionKind]int
	phases    []Phase // distinct consecutive phases seen
	violation error   // first instant a served certificate did not verify
}

// simulate drives Plan/apply on a fake clock from t0 for horizon in steps, as the replicas
// together would: every decision is carried out at once, and a bundle counts as published
// publishLag after it first appeared in the Secret. At every step it checks that every serving
// certificate a replica may still serve (one current within the last replicaLag: informer
// delay) verifies against every bundle an API server may still use (one current within the last
// apiLag: webhook configuration propagation).
func simulate(t *testing.T, o Options, clk *testingclock.FakeClock, horizon, step, publishLag, replicaLag, apiLag time.Duration) simResult {
	t.Helper()
	res := simResult{actions: map[ActionKind]int{}}
	var (
		st          State
		history     []simVersion
		bundleSince time.Time
	)
	verified := map[string]time.Time{}
	end := clk.Now().Add(horizon)
	dnsName := o.DNSNames()[2]
	for ; clk.Now().Before(end); clk.Step(step) {
		now := clk.Now()
		for i := 0; ; i++ {
			if i == 10 {
				t.Fatalf("%v: Plan does not settle", now)
			}
			st.BundlePublished = st.CA != nil && !now.Before(bundleSince.Add(publishLag))
			a := Plan(st, now, o)
			if a.Kind == ActionNone {
				if !a.Wake.IsZero() && !a.Wake.After(now) {
					t.Fatalf("%v: Wake %v is not in the future", now, a.Wake)
				}
				break
			}
			if a.Kind == ActionGenerate && res.actions[ActionGenerate] > 0 {
				t.Fatalf("%v: had to regenerate everything (%v): rotation did not keep up", now, a)
			}
			next, err := apply(st, a, now, o)
			if err != nil {
				t.Fatalf("%v: apply(%v): %v", now, a, err)
			}
			res.actions[a.Kind]++
			if !bytes.Equal(next.Bundle(), st.Bundle()) {
				bundleSince = now
			}
			st = next
			if len(res.phases) == 0 || res.phases[len(res.phases)-1] != st.Phase() {
				res.phases = append(res.phases, st.Phase())
			}
			history = append(history, simVersion{from: now, bundle: st.Bundle(), serving: st.Serving.Cert})
		}
		if res.violation == nil {
			res.violation = checkRecent(verified, history, now, replicaLag, apiLag, dnsName)
		}
	}
	return res
}

// recent returns the versions current at some instant of [now-lag, now], newest first.
func recent(history []simVersion, now time.Time, lag time.Duration) []simVersion {
	var out []simVersion
	for i := len(history) - 1; i >= 0; i-- {
		if i < len(history)-1 && !history[i+1].from.After(now.Add(-lag)) {
			break // replaced before the window began
		}
		out = append(out, history[i])
	}
	return out
}

// checkRecent verifies every recent (serving, bundle) pair at now. verified caches, per pair, until
// when a successful verification stays valid (the earliest NotAfter in the chain; every NotBefore
// is already past), which keeps long simulations fast.
func checkRecent(verified map[string]time.Time, history []simVersion, now time.Time, replicaLag, apiLag time.Duration, dnsName string) error {
	for _, s := range recent(history, now, replicaLag) {
		for _, b := range recent(history, now, apiLag) {
			key := s.serving.SerialNumber.String() + "|" + string(b.bundle)
			if until, ok := verified[key]; ok && now.Before(until) {
				continue
			}
			certs, err := parseCertsPEM(b.bundle)
			if err != nil {
				return err
			}
			chains, err := s.serving.Verify(x509.VerifyOptions{
				Roots: poolOf(certs...), DNSName: dnsName, CurrentTime: now,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if err != nil {
				return fmt.Errorf("at %v the serving certificate of %v does not verify against the bundle of %v: %w", now, s.from, b.from, err)
			}
			until := s.serving.NotAfter
			for _, c := range chains[0] {
				if c.NotAfter.Before(until) {
					until = c.NotAfter
				}
			}
			verified[key] = until
		}
	}
	return nil
}

func TestRotationKeepsServedCertificateTrusted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		opts          func(Options) Options
		horizon, step time.Duration
		publishLag    time.Duration
		replicaLag    func(Options) time.Duration
		apiLag        func(Options) time.Duration
		minCA         int // CA rotations at least
		wantViolation bool
	}{
		{
			name: "e2e durations, 1s resolution", horizon: 16 * time.Minute, step: time.Second, publishLag: 2 * time.Second,
			minCA: 3,
		},
		{
			name: "RotateBefore", opts: func(o Options) Options { o.RotateBefore = 45 * time.Second; return o },
			horizon: 16 * time.Minute, step: time.Second, publishLag: 3 * time.Second,
			minCA: 3,
		},
		{
			name: "production defaults over 11 years, 3 day resolution", opts: func(o Options) Options {
				o.CAValidity, o.CertValidity = DefaultCAValidity, DefaultCertValidity
				o.PropagationDelay, o.Overlap = DefaultPropagationDelay, DefaultOverlap
				return o
			},
			horizon: 11 * 365 * 24 * time.Hour, step: 72 * time.Hour, publishLag: time.Minute,
			minCA: 3,
		},
		{
			// Negative control: replicas slower than Overlap would serve a certificate the
			// published bundle no longer trusts. The checker must notice.
			name: "replicas lagging beyond Overlap are caught", horizon: 10 * time.Minute, step: time.Second, publishLag: 2 * time.Second,
			replicaLag:    func(o Options) time.Duration { return o.Overlap + 5*time.Second },
			wantViolation: true,
		},
		{
			name: "API servers lagging beyond PropagationDelay are caught", horizon: 10 * time.Minute, step: time.Second, publishLag: 0,
			apiLag:        func(o Options) time.Duration { return o.PropagationDelay + 5*time.Second },
			wantViolation: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := testingclock.NewFakeClock(t0)
			o := e2eOptions(clk)
			if tc.opts != nil {
				o = tc.opts(o)
			}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			replicaLag, apiLag := o.Overlap*9/10, o.PropagationDelay*9/10
			if tc.replicaLag != nil {
				replicaLag = tc.replicaLag(o)
			}
			if tc.apiLag != nil {
				apiLag = tc.apiLag(o)
			}
			res := simulate(t, o, clk, tc.horizon, tc.step, tc.publishLag, replicaLag, apiLag)
			if tc.wantViolation {
				if res.violation == nil {
					t.Fatal("no violation found: the invariant check is toothless")
				}
				return
			}
			if res.violation != nil {
				t.Fatal(res.violation)
			}
			a := res.actions
			if a[ActionGenerate] != 1 || a[ActionStartCARotation] < tc.minCA || a[ActionRenewServing] == 0 {
				t.Errorf("actions %v: want 1 generate, >= %d CA rotations and serving renewals", a, tc.minCA)
			}
			for _, k := range []ActionKind{ActionMarkBundlePublished, ActionSwitchCA, ActionFinishCARotation} {
				if d := a[ActionStartCARotation] - a[k]; d < 0 || d > 1 { // the last rotation may be in flight
					t.Errorf("%d CA rotations started but %d %s", a[ActionStartCARotation], a[k], k)
				}
			}
			for i := 0; i+2 < len(res.phases); i += 3 {
				if got := res.phases[i : i+3]; got[0] != PhaseStable || got[1] != PhaseCAAdded || got[2] != PhaseCASwitched {
					t.Fatalf("phase sequence %v, want stable -> ca-added -> ca-switched -> stable ...", res.phases)
				}
			}
		})
	}
}
