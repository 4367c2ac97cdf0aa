package certs

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	o := e2eOptions(nil) // CA 5m, serving 2m, RotateFraction 1/3, PropagationDelay 10s, Overlap 20s
	// Lifetimes include the NotBefore backdating (CA 30s, serving 12s), so with fraction 1/3 the
	// CA renewal is due 110s before its end (t0+190s) and the serving one 44s before (t0+76s).
	caDue := t0.Add(190 * time.Second)
	servingDue := t0.Add(76 * time.Second)
	started := caDue
	tests := []struct {
		name       string
		opts       func(Options) Options
		state      func(t *testing.T, o Options) State
		now        time.Time
		want       ActionKind
		wantReason string
		wantWake   time.Time // for ActionNone
		wantNames  []string  // for actions issuing a serving certificate
		check      func(t *testing.T, a Action)
	}{
		{name: "no Secret yet", state: func(*testing.T, Options) State { return State{} }, now: t0,
			want: ActionGenerate, wantReason: "no CA yet", wantNames: o.DNSNames()},
		{name: "corrupt CA", state: func(*testing.T, Options) State { return State{Problems: []string{"ca-current.crt: garbage"}} }, now: t0,
			want: ActionGenerate, wantReason: "no usable CA in the Secret: ca-current.crt: garbage"},
		{name: "CA expired (cluster was off)", state: func(t *testing.T, o Options) State { return stableState(t, t0, o) }, now: t0.Add(5 * time.Minute),
			want: ActionGenerate, wantReason: "CA expired"},
		{name: "fresh: nothing to do until the serving renewal", state: func(t *testing.T, o Options) State { return stableState(t, t0, o) }, now: t0,
			want: ActionNone, wantWake: servingDue},
		{name: "serving renewal due", state: func(t *testing.T, o Options) State { return stableState(t, t0, o) }, now: servingDue,
			want: ActionRenewServing, wantReason: "renewal due", wantNames: o.DNSNames()},
		{name: "serving renewal with RotateBefore", opts: func(o Options) Options { o.RotateBefore = 40 * time.Second; return o },
			state: func(t *testing.T, o Options) State { return stableState(t, t0, o) }, now: t0.Add(80 * time.Second),
			want: ActionRenewServing, wantReason: "renewal due"},
		{name: "before RotateBefore window", opts: func(o Options) Options { o.RotateBefore = 40 * time.Second; return o },
			state: func(t *testing.T, o Options) State { return stableState(t, t0, o) }, now: t0.Add(79 * time.Second),
			want: ActionNone, wantWake: t0.Add(80 * time.Second)},
		{name: "serving certificate missing", state: func(t *testing.T, o Options) State {
			st := stableState(t, t0, o)
			st.Serving = nil
			return st
		}, now: t0, want: ActionRenewServing, wantReason: "no usable serving certificate"},
		{name: "serving certificate from a foreign CA", state: func(t *testing.T, o Options) State {
			st := stableState(t, t0, o)
			st.Serving = mustServing(t, mustCA(t, t0, o.CAValidity), t0, o.CertValidity, o.DNSNames())
			return st
		}, now: t0, want: ActionRenewServing, wantReason: "not issued by the current CA"},
		{name: "new extra DNS name: union with the old names", opts: func(o Options) Options {
			o.ExtraDNSNames = []string{"webhook.example.com"}
			return o
		}, state: func(t *testing.T, o Options) State {
			st := stableState(t, t0, o)
			st.Serving = mustServing(t, st.CA, t0, o.CertValidity, []string{"legacy.example.com", "hdscale-webhook.hdscale-system.svc"})
			return st
		}, now: t0, want: ActionRenewServing, wantReason: "lacks DNS names [hdscale-webhook hdscale-webhook.hdscale-system hdscale-webhook.hdscale-system.svc.cluster.local webhook.example.com]",
			wantNames: append(o.DNSNames(), "webhook.example.com", "legacy.example.com")},
		{name: "CA renewal due starts phase 1 (before any serving renewal)", state: func(t *testing.T, o Options) State { return stableState(t, t0, o) }, now: caDue,
			want: ActionStartCARotation, wantReason: "renewal due"},
		{name: "phase 1: bundle not yet published", state: func(t *testing.T, o Options) State {
			return renewedServing(t, phase1State(t, t0, started, o), started, o)
		}, now: started.Add(time.Second), want: ActionNone,
			check: func(t *testing.T, a Action) {
				if !a.Wake.After(started.Add(time.Second)) {
					t.Errorf("Wake %v not in the future", a.Wake)
				}
			}},
		{name: "phase 1: bundle observed in every configuration", state: func(t *testing.T, o Options) State {
			st := renewedServing(t, phase1State(t, t0, started, o), started, o)
			st.BundlePublished = true
			return st
		}, now: started.Add(2 * time.Second), want: ActionMarkBundlePublished},
		{name: "phase 1: propagation delay running", state: func(t *testing.T, o Options) State {
			st := renewedServing(t, phase1State(t, t0, started, o), started, o)
			st.BundlePublished, st.BundlePublishedAt = true, started.Add(2*time.Second)
			return st
		}, now: started.Add(5 * time.Second), want: ActionNone, wantWake: started.Add(12 * time.Second)},
		{name: "phase 1: propagation delay over: switch", state: func(t *testing.T, o Options) State {
			st := renewedServing(t, phase1State(t, t0, started, o), started, o)
			st.BundlePublished, st.BundlePublishedAt = true, started.Add(2*time.Second)
			return st
		}, now: started.Add(12 * time.Second), want: ActionSwitchCA, wantNames: o.DNSNames()},
		{name: "phase 1: bundle emptied meanwhile: wait for the repair", state: func(t *testing.T, o Options) State {
			st := renewedServing(t, phase1State(t, t0, started, o), started, o)
			st.BundlePublishedAt = started.Add(2 * time.Second)
			return st
		}, now: started.Add(30 * time.Second), want: ActionNone},
		{name: "phase 1: serving certificate capped at the old CA is not reissued in vain", state: func(t *testing.T, o Options) State {
			st := phase1State(t, t0, started, o)
			st.Serving = mustServing(t, st.CA, t0.Add(4*time.Minute), o.CertValidity, o.DNSNames()) // NotAfter = CA NotAfter
			return st
		}, now: t0.Add(4*time.Minute + 50*time.Second), want: ActionNone},
		{name: "phase 1: the incoming CA expired", state: func(t *testing.T, o Options) State {
			st := stableState(t, t0, o)
			st.NextCA = mustCA(t, t0.Add(-4*time.Minute), o.CAValidity)
			return st
		}, now: t0.Add(90 * time.Second), want: ActionStartCARotation, wantReason: "incoming CA expired"},
		{name: "phase 2: overlap running", state: func(t *testing.T, o Options) State {
			return phase2State(t, t0, started, started.Add(12*time.Second), o)
		}, now: started.Add(20 * time.Second), want: ActionNone, wantWake: started.Add(32 * time.Second)},
		{name: "phase 2: overlap over: drop the old CA", state: func(t *testing.T, o Options) State {
			return phase2State(t, t0, started, started.Add(12*time.Second), o)
		}, now: started.Add(32 * time.Second), want: ActionFinishCARotation},
		{name: "phase 2 without timestamp restarts the overlap", state: func(t *testing.T, o Options) State {
			st := phase2State(t, t0, started, started.Add(12*time.Second), o)
			st.SwitchedAt = time.Time{}
			return st
		}, now: started.Add(40 * time.Second), want: ActionMarkSwitched},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := o
			if tc.opts != nil {
				opts = tc.opts(o)
			}
			st := tc.state(t, opts)
			a := Plan(st, tc.now, opts)
			if a.Kind != tc.want {
				t.Fatalf("Plan = %v, want %s", a, tc.want)
			}
			if !strings.Contains(a.Reason, tc.wantReason) {
				t.Errorf("reason %q, want it to contain %q", a.Reason, tc.wantReason)
			}
			if !tc.wantWake.IsZero() && !a.Wake.Equal(tc.wantWake) {
				t.Errorf("Wake = %v, want %v", a.Wake, tc.wantWake)
			}
			if tc.wantNames != nil && !slices.Equal(a.DNSNames, tc.wantNames) {
				t.Errorf("DNSNames = %v, want %v", a.DNSNames, tc.wantNames)
			}
			if tc.check != nil {
				tc.check(t, a)
			}
			// Pure: the same inputs give the same decision.
			if again := Plan(st, tc.now, opts); again.Kind != a.Kind || again.Reason != a.Reason || !again.Wake.Equal(a.Wake) {
				t.Errorf("Plan not deterministic: %v then %v", a, again)
			}
			// Whatever Plan decides must be executable.
			if _, err := apply(st, a, tc.now, opts); err != nil {
				t.Errorf("apply(%v): %v", a, err)
			}
		})
	}
}

// renewedServing gives st a serving certificate issued at now from its current CA.
func renewedServing(t *testing.T, st State, now time.Time, o Options) State {
	t.Helper()
	st.Serving = mustServing(t, st.CA, now, o.CertValidity, o.DNSNames())
	return st
}

func TestApplyTransitions(t *testing.T) {
	t.Parallel()
	o := e2eOptions(nil)
	now := t0.Add(4 * time.Minute)
	tests := []struct {
		name    string
		state   func(t *testing.T) State
		action  Action
		wantErr string
		check   func(t *testing.T, before, after State)
	}{
		{name: "generate from nothing", state: func(*testing.T) State { return State{} }, action: Action{Kind: ActionGenerate, DNSNames: o.DNSNames()},
			check: func(t *testing.T, _, after State) {
				if after.Phase() != PhaseStable || after.CA == nil || after.Serving.Cert.CheckSignatureFrom(after.CA.Cert) != nil {
					t.Error("generate did not produce a CA and a serving certificate from it")
				}
			}},
		{name: "start rotation keeps serving", state: func(t *testing.T) State { return stableState(t, t0, o) }, action: Action{Kind: ActionStartCARotation},
			check: func(t *testing.T, before, after State) {
				if after.Phase() != PhaseCAAdded || !after.RotationStartedAt.Equal(now) || after.Serving != before.Serving || len(after.BundleCerts()) != 2 {
					t.Error("phase 1 state wrong")
				}
			}},
		{name: "switch issues from the new CA and keeps the old in the bundle",
			state:  func(t *testing.T) State { return phase1State(t, t0, t0.Add(3*time.Minute), o) },
			action: Action{Kind: ActionSwitchCA, DNSNames: o.DNSNames()},
			check: func(t *testing.T, before, after State) {
				if after.Phase() != PhaseCASwitched || after.CA != before.NextCA || !after.PrevCA.Equal(before.CA.Cert) ||
					after.Serving.Cert.CheckSignatureFrom(before.NextCA.Cert) != nil || !after.SwitchedAt.Equal(now) {
					t.Error("phase 2 state wrong")
				}
				if string(after.Bundle()) != string(before.Bundle()) {
					t.Error("the bundle bytes changed between phase 1 and 2 (needless caBundle patch)")
				}
			}},
		{name: "finish drops the old CA and clears timestamps",
			state: func(t *testing.T) State {
				return phase2State(t, t0, t0.Add(3*time.Minute), t0.Add(3*time.Minute+10*time.Second), o)
			},
			action: Action{Kind: ActionFinishCARotation},
			check: func(t *testing.T, _, after State) {
				if after.Phase() != PhaseStable || len(after.BundleCerts()) != 1 || !after.RotationStartedAt.IsZero() ||
					!after.SwitchedAt.IsZero() || !after.RotationFinishedAt.Equal(now) {
					t.Error("stable state after phase 3 wrong")
				}
			}},
		{name: "switch in stable phase is refused", state: func(t *testing.T) State { return stableState(t, t0, o) }, action: Action{Kind: ActionSwitchCA, DNSNames: o.DNSNames()}, wantErr: "not possible in phase stable"},
		{name: "start rotation in phase 2 is refused", state: func(t *testing.T) State {
			return phase2State(t, t0, t0.Add(3*time.Minute), t0.Add(3*time.Minute+10*time.Second), o)
		}, action: Action{Kind: ActionStartCARotation}, wantErr: "not possible in phase ca-switched"},
		{name: "renew without CA is refused", state: func(*testing.T) State { return State{} }, action: Action{Kind: ActionRenewServing, DNSNames: o.DNSNames()}, wantErr: "no CA"},
		{name: "unknown action", state: func(*testing.T) State { return State{} }, action: Action{Kind: "explode"}, wantErr: "unknown action"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := tc.state(t)
			after, err := apply(before, tc.action, now, o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("apply = %v, want error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			tc.check(t, before, after)
		})
	}
}
