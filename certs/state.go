package certs

import (
	"bytes"
	"crypto/x509"
	"slices"
	"time"
)

// Phase is the CA rotation phase, derived from which CAs the Secret holds.
type Phase string

const (
	// PhaseStable: one CA signs the serving certificate and is the whole bundle.
	PhaseStable Phase = "stable"
	// PhaseCAAdded (rotation phase 1): a new CA is in the bundle next to the current one; serving
	// certificates still come from the current (old) CA.
	PhaseCAAdded Phase = "ca-added"
	// PhaseCASwitched (rotation phase 2): serving certificates come from the new CA; the previous
	// CA stays in the bundle for Overlap. Phase 3 drops it and returns to PhaseStable.
	PhaseCASwitched Phase = "ca-switched"
)

// State is the certificate material and rotation bookkeeping of the Secret, decoded, plus what
// the current replica observed about the webhook configurations.
type State struct {
	CA      *KeyPair          // signs the serving certificate
	NextCA  *KeyPair          // PhaseCAAdded: published, not yet signing
	PrevCA  *x509.Certificate // PhaseCASwitched: retired signer, still published
	Serving *KeyPair          // the serving certificate

	RotationStartedAt  time.Time // phase 1 began (NextCA generated)
	BundlePublishedAt  time.Time // a replica confirmed the bundle with NextCA in every configuration
	SwitchedAt         time.Time // phase 2 began (serving certificate issued from the new CA)
	RotationFinishedAt time.Time // last phase 3 (informational)

	// BundlePublished is an observation, not stored: every configured webhook configuration
	// carries exactly Bundle() right now.
	BundlePublished bool
	// Problems lists what was wrong with the Secret's contents when decoding it.
	Problems []string
}

// Phase derives the rotation phase from the CAs present.
func (s State) Phase() Phase {
	switch {
	case s.PrevCA != nil:
		return PhaseCASwitched
	case s.NextCA != nil:
		return PhaseCAAdded
	default:
		return PhaseStable
	}
}

// BundleCerts are the CA certificates to publish as caBundle: the current CA plus the incoming
// or outgoing one during a rotation, oldest first so the bytes stay the same from phase 1 to 2.
func (s State) BundleCerts() []*x509.Certificate {
	var certs []*x509.Certificate
	if s.CA != nil {
		certs = append(certs, s.CA.Cert)
	}
	if s.NextCA != nil {
		certs = append(certs, s.NextCA.Cert)
	}
	if s.PrevCA != nil {
		certs = append(certs, s.PrevCA)
	}
	slices.SortStableFunc(certs, func(a, b *x509.Certificate) int {
		if c := a.NotBefore.Compare(b.NotBefore); c != 0 {
			return c
		}
		return a.SerialNumber.Cmp(b.SerialNumber)
	})
	return certs
}

// Bundle is the PEM caBundle for the webhook configurations (nil without a CA).
func (s State) Bundle() []byte {
	var buf bytes.Buffer
	for _, c := range s.BundleCerts() {
		buf.Write(encodeCertPEM(c.Raw))
	}
	if buf.Len() == 0 {
		return nil
	}
	return buf.Bytes()
}
