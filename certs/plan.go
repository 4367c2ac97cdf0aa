package certs

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// ActionKind is what Plan decides to do next.
type ActionKind string

const (
	// ActionNone: nothing to do until Action.Wake (or an external change).
	ActionNone ActionKind = "none"
	// ActionGenerate: issue a fresh CA and serving certificate (no Secret yet, or its CA is
	// missing, corrupt or expired, so no overlap is possible).
	ActionGenerate ActionKind = "generate"
	// ActionRenewServing: issue a new serving certificate from the current CA.
	ActionRenewServing ActionKind = "renew-serving"
	// ActionStartCARotation (phase 1): generate the next CA; the bundle becomes old + new.
	ActionStartCARotation ActionKind = "start-ca-rotation"
	// ActionMarkBundlePublished: record that the bundle with the next CA is in every webhook
	// configuration; PropagationDelay counts from here.
	ActionMarkBundlePublished ActionKind = "mark-bundle-published"
	// ActionSwitchCA (phase 2): the next CA becomes current and issues the serving certificate;
	// the old CA stays in the bundle.
	ActionSwitchCA ActionKind = "switch-ca"
	// ActionMarkSwitched: phase 2 lacks its timestamp (edited Secret); start Overlap now.
	ActionMarkSwitched ActionKind = "mark-switched"
	// ActionFinishCARotation (phase 3): drop the previous CA from the bundle.
	ActionFinishCARotation ActionKind = "finish-ca-rotation"
)

// Action is Plan's decision.
type Action struct {
	Kind   ActionKind
	Reason string
	// DNSNames are the SANs for a newly issued serving certificate (Generate, RenewServing,
	// SwitchCA).
	DNSNames []string
	// Wake is, for ActionNone, the earliest future instant at which Plan may decide otherwise
	// without any external change; zero when there is none.
	Wake time.Time
}

func (a Action) String() string {
	if a.Reason == "" {
		return string(a.Kind)
	}
	return string(a.Kind) + ": " + a.Reason
}

// Plan decides the next step for the Secret state st at now. It is pure: the same inputs always
// give the same Action, so any replica can continue a rotation another one started.
func Plan(st State, now time.Time, o Options) Action {
	desired := o.DNSNames()
	generate := func(reason string) Action {
		return Action{Kind: ActionGenerate, Reason: reason, DNSNames: desired}
	}
	if st.CA == nil {
		if len(st.Problems) > 0 {
			return generate("no usable CA in the Secret: " + strings.Join(st.Problems, "; "))
		}
		return generate("no CA yet")
	}
	if !now.Before(st.CA.Cert.NotAfter) {
		return generate(fmt.Sprintf("CA expired at %s", st.CA.Cert.NotAfter.UTC().Format(time.RFC3339)))
	}

	switch st.Phase() {
	case PhaseCAAdded:
		if !now.Before(st.NextCA.Cert.NotAfter) {
			return Action{Kind: ActionStartCARotation, Reason: "the incoming CA expired before the rotation finished; generating another"}
		}
		switch {
		case st.BundlePublishedAt.IsZero():
			if st.BundlePublished {
				return Action{Kind: ActionMarkBundlePublished, Reason: "the bundle with the new CA is in every webhook configuration"}
			}
		case st.BundlePublished && !now.Before(st.BundlePublishedAt.Add(o.PropagationDelay)):
			return Action{
				Kind:     ActionSwitchCA,
				Reason:   fmt.Sprintf("the bundle with the new CA has been published since %s (PropagationDelay %v)", formatTime(st.BundlePublishedAt), o.PropagationDelay),
				DNSNames: desired,
			}
		}
	case PhaseCASwitched:
		if st.SwitchedAt.IsZero() {
			return Action{Kind: ActionMarkSwitched, Reason: "phase 2 has no switch timestamp; starting the overlap now"}
		}
		if !now.Before(st.SwitchedAt.Add(o.Overlap)) {
			return Action{Kind: ActionFinishCARotation, Reason: fmt.Sprintf("serving from the new CA since %s (Overlap %v)", formatTime(st.SwitchedAt), o.Overlap)}
		}
	case PhaseStable:
		if due := renewalTime(st.CA.Cert, o); !now.Before(due) {
			return Action{Kind: ActionStartCARotation, Reason: fmt.Sprintf("CA expires at %s, renewal due since %s",
				st.CA.Cert.NotAfter.UTC().Format(time.RFC3339), due.UTC().Format(time.RFC3339))}
		}
	}

	if a, ok := planServing(st, now, o, desired); ok {
		return a
	}
	return Action{Kind: ActionNone, Wake: wake(st, now, o)}
}

// planServing decides whether the serving certificate must be reissued from st.CA.
func planServing(st State, now time.Time, o Options, desired []string) (Action, bool) {
	renew := func(reason string, names []string) (Action, bool) {
		return Action{Kind: ActionRenewServing, Reason: reason, DNSNames: names}, true
	}
	s := st.Serving
	if s == nil {
		return renew("no usable serving certificate", desired)
	}
	if err := s.Cert.CheckSignatureFrom(st.CA.Cert); err != nil {
		return renew("the serving certificate was not issued by the current CA", desired)
	}
	if missing := missingNames(s.Cert.DNSNames, desired); len(missing) > 0 {
		return renew(fmt.Sprintf("the serving certificate lacks DNS names %v", missing), unionNames(desired, s.Cert.DNSNames))
	}
	if !now.Before(s.Cert.NotAfter) {
		return renew(fmt.Sprintf("the serving certificate expired at %s", s.Cert.NotAfter.UTC().Format(time.RFC3339)), desired)
	}
	// A certificate already ending with its CA cannot be extended by reissuing it from that CA.
	if due := renewalTime(s.Cert, o); !now.Before(due) && s.Cert.NotAfter.Before(st.CA.Cert.NotAfter) {
		return renew(fmt.Sprintf("the serving certificate expires at %s, renewal due since %s",
			s.Cert.NotAfter.UTC().Format(time.RFC3339), due.UTC().Format(time.RFC3339)), desired)
	}
	return Action{}, false
}

// renewalTime is when c should be renewed: RotateBefore (or RotateFraction of its lifetime)
// before its NotAfter.
func renewalTime(c *x509.Certificate, o Options) time.Time {
	return c.NotAfter.Add(-o.renewWindow(c.NotAfter.Sub(c.NotBefore)))
}

// wake is the earliest instant after now at which Plan(st) can change by time alone.
func wake(st State, now time.Time, o Options) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if st.CA == nil {
		return next
	}
	consider(st.CA.Cert.NotAfter)
	switch st.Phase() {
	case PhaseStable:
		consider(renewalTime(st.CA.Cert, o))
	case PhaseCAAdded:
		consider(st.NextCA.Cert.NotAfter)
		if !st.BundlePublishedAt.IsZero() {
			consider(st.BundlePublishedAt.Add(o.PropagationDelay))
		}
	case PhaseCASwitched:
		if !st.SwitchedAt.IsZero() {
			consider(st.SwitchedAt.Add(o.Overlap))
		}
	}
	if st.Serving != nil {
		consider(st.Serving.Cert.NotAfter)
		if st.Serving.Cert.NotAfter.Before(st.CA.Cert.NotAfter) {
			consider(renewalTime(st.Serving.Cert, o))
		}
	}
	return next
}
