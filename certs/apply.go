package certs

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// apply carries out a (Plan's decision) on st at now and returns the new state. Apart from the
// randomness of key generation it is pure; it refuses transitions whose preconditions do not
// hold instead of guessing.
func apply(st State, a Action, now time.Time, o Options) (State, error) {
	next := st
	next.Problems = nil
	switch a.Kind {
	case ActionNone:
	case ActionGenerate:
		ca, err := newCA(now, o.CAValidity)
		if err != nil {
			return st, err
		}
		srv, err := newServingCert(ca, now, o.CertValidity, a.DNSNames)
		if err != nil {
			return st, err
		}
		next = State{CA: ca, Serving: srv, RotationFinishedAt: st.RotationFinishedAt}
	case ActionRenewServing:
		if st.CA == nil {
			return st, errors.New("renew serving certificate: no CA")
		}
		srv, err := newServingCert(st.CA, now, o.CertValidity, a.DNSNames)
		if err != nil {
			return st, err
		}
		next.Serving = srv
	case ActionStartCARotation:
		if st.CA == nil || st.PrevCA != nil {
			return st, fmt.Errorf("start CA rotation: not possible in phase %s", st.Phase())
		}
		ca, err := newCA(now, o.CAValidity)
		if err != nil {
			return st, err
		}
		next.NextCA = ca
		next.RotationStartedAt, next.BundlePublishedAt, next.SwitchedAt = now, time.Time{}, time.Time{}
	case ActionMarkBundlePublished:
		if st.Phase() != PhaseCAAdded {
			return st, fmt.Errorf("mark bundle published: not possible in phase %s", st.Phase())
		}
		next.BundlePublishedAt = now
	case ActionSwitchCA:
		if st.Phase() != PhaseCAAdded {
			return st, fmt.Errorf("switch CA: not possible in phase %s", st.Phase())
		}
		srv, err := newServingCert(st.NextCA, now, o.CertValidity, a.DNSNames)
		if err != nil {
			return st, err
		}
		next.PrevCA, next.CA, next.NextCA, next.Serving = st.CA.Cert, st.NextCA, nil, srv
		next.SwitchedAt = now
	case ActionMarkSwitched:
		if st.Phase() != PhaseCASwitched {
			return st, fmt.Errorf("mark switched: not possible in phase %s", st.Phase())
		}
		next.SwitchedAt = now
	case ActionFinishCARotation:
		if st.Phase() != PhaseCASwitched {
			return st, fmt.Errorf("finish CA rotation: not possible in phase %s", st.Phase())
		}
		next.PrevCA = nil
		next.RotationStartedAt, next.BundlePublishedAt, next.SwitchedAt = time.Time{}, time.Time{}, time.Time{}
		next.RotationFinishedAt = now
	default:
		return st, fmt.Errorf("unknown action %q", a.Kind)
	}
	// The observation still holds only if the bundle did not change.
	next.BundlePublished = st.BundlePublished && bytes.Equal(next.Bundle(), st.Bundle())
	return next, nil
}
