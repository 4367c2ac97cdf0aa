package certs

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Secret ownership marks.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedByValue = "hdscale"
)

// Secret annotations (all timestamps RFC 3339, UTC).
const (
	// AnnotationFormat is the version of this layout; a Secret with a format this code does not
	// know is left alone.
	AnnotationFormat = "hdscale.io/certs-format"
	FormatV1         = "v1"

	AnnotationPhase              = "hdscale.io/ca-rotation-phase" // stable | ca-added | ca-switched
	AnnotationRotationStartedAt  = "hdscale.io/ca-rotation-started-at"
	AnnotationBundlePublishedAt  = "hdscale.io/ca-bundle-published-at"
	AnnotationSwitchedAt         = "hdscale.io/ca-switched-at"
	AnnotationRotationFinishedAt = "hdscale.io/ca-rotation-finished-at"
	// AnnotationLastChange records the last action taken and why (informational).
	AnnotationLastChange = "hdscale.io/last-change"
)

// Secret data keys.
const (
	KeyServingCert    = corev1.TLSCertKey       // tls.crt: serving certificate
	KeyServingKey     = corev1.TLSPrivateKeyKey // tls.key: its key
	KeyCABundle       = "ca.crt"                // the published bundle (what caBundle holds)
	KeyCACert         = "ca-current.crt"        // CA signing tls.crt
	KeyCAKey          = "ca-current.key"
	KeyNextCACert     = "ca-next.crt" // phase 1 only
	KeyNextCAKey      = "ca-next.key"
	KeyPreviousCACert = "ca-previous.crt" // phase 2 only
)

// ErrForeignSecret marks a Secret that hdscale must not modify.
var ErrForeignSecret = errors.New("not managed by hdscale")

// checkOwnership returns an error wrapping ErrForeignSecret when sec must not be modified.
func checkOwnership(sec *corev1.Secret) error {
	ref := sec.Namespace + "/" + sec.Name
	if v := sec.Labels[LabelManagedBy]; v != ManagedByValue {
		return fmt.Errorf("Secret %s exists but is %w (label %s=%s is missing, found %q); refusing to overwrite it: delete it or configure another secret name",
			ref, ErrForeignSecret, LabelManagedBy, ManagedByValue, v)
	}
	if f, ok := sec.Annotations[AnnotationFormat]; ok && f != FormatV1 {
		return fmt.Errorf("Secret %s has %s=%q but this hdscale only understands %q (written by a newer version?); %w: leaving it alone",
			ref, AnnotationFormat, f, FormatV1, ErrForeignSecret)
	}
	if sec.Type != corev1.SecretTypeTLS && sec.Type != corev1.SecretTypeOpaque && sec.Type != "" {
		return fmt.Errorf("Secret %s has type %q, want %q; a Secret's type cannot be changed, delete it and hdscale recreates it: %w",
			ref, sec.Type, corev1.SecretTypeTLS, ErrForeignSecret)
	}
	return nil
}

// decodeState parses an owned Secret (nil: none yet). Unusable parts are left nil and explained
// in Problems; Plan decides what to regenerate.
func decodeState(sec *corev1.Secret) State {
	var st State
	if sec == nil {
		return st
	}
	d := sec.Data
	problem := func(format string, args ...any) { st.Problems = append(st.Problems, fmt.Sprintf(format, args...)) }
	present := func(keys ...string) bool {
		for _, k := range keys {
			if len(d[k]) > 0 {
				return true
			}
		}
		return false
	}
	if len(d) == 0 {
		return st // an empty (adoptable) Secret has no problems, just no material
	}

	parseCA := func(certKey, keyKey string) *KeyPair {
		kp, err := parseKeyPair(d[certKey], d[keyKey])
		if err == nil {
			err = isCA(kp.Cert)
		}
		if err != nil {
			problem("%s/%s: %v", certKey, keyKey, err)
			return nil
		}
		return kp
	}
	st.CA = parseCA(KeyCACert, KeyCAKey)
	if present(KeyNextCACert, KeyNextCAKey) {
		st.NextCA = parseCA(KeyNextCACert, KeyNextCAKey)
	}
	if present(KeyPreviousCACert) {
		c, err := parseCertPEM(d[KeyPreviousCACert])
		if err == nil {
			err = isCA(c)
		}
		if err != nil {
			problem("%s: %v", KeyPreviousCACert, err)
		} else {
			st.PrevCA = c
		}
	}
	if st.NextCA != nil && st.PrevCA != nil {
		problem("both %s and %s present; discarding %s", KeyNextCACert, KeyPreviousCACert, KeyNextCACert)
		st.NextCA = nil
	}
	if kp, err := parseKeyPair(d[KeyServingCert], d[KeyServingKey]); err != nil {
		problem("%s/%s: %v", KeyServingCert, KeyServingKey, err)
	} else if kp.Cert.IsCA {
		problem("%s: is a CA certificate, want a serving certificate", KeyServingCert)
	} else {
		st.Serving = kp
	}

	ts := func(key string) time.Time {
		v, ok := sec.Annotations[key]
		if !ok || v == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			problem("annotation %s: %v", key, err)
			return time.Time{}
		}
		return t
	}
	st.RotationStartedAt = ts(AnnotationRotationStartedAt)
	st.BundlePublishedAt = ts(AnnotationBundlePublishedAt)
	st.SwitchedAt = ts(AnnotationSwitchedAt)
	st.RotationFinishedAt = ts(AnnotationRotationFinishedAt)
	return st
}

// secretData is the canonical Data of a Secret holding st.
func secretData(st State) map[string][]byte {
	d := map[string][]byte{KeyCABundle: st.Bundle()}
	if st.CA != nil {
		d[KeyCACert], d[KeyCAKey] = st.CA.CertPEM, st.CA.KeyPEM
	}
	if st.NextCA != nil {
		d[KeyNextCACert], d[KeyNextCAKey] = st.NextCA.CertPEM, st.NextCA.KeyPEM
	}
	if st.PrevCA != nil {
		d[KeyPreviousCACert] = encodeCertPEM(st.PrevCA.Raw)
	}
	if st.Serving != nil {
		d[KeyServingCert], d[KeyServingKey] = st.Serving.CertPEM, st.Serving.KeyPEM
	}
	return d
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// stateAnnotations are the annotations describing st (zero timestamps are absent).
func stateAnnotations(st State) map[string]string {
	a := map[string]string{
		AnnotationFormat: FormatV1,
		AnnotationPhase:  string(st.Phase()),
	}
	for key, t := range map[string]time.Time{
		AnnotationRotationStartedAt:  st.RotationStartedAt,
		AnnotationBundlePublishedAt:  st.BundlePublishedAt,
		AnnotationSwitchedAt:         st.SwitchedAt,
		AnnotationRotationFinishedAt: st.RotationFinishedAt,
	} {
		if !t.IsZero() {
			a[key] = formatTime(t)
		}
	}
	return a
}

// stateAnnotationKeys are the annotations stateAnnotations manages.
var stateAnnotationKeys = []string{
	AnnotationFormat, AnnotationPhase, AnnotationRotationStartedAt, AnnotationBundlePublishedAt,
	AnnotationSwitchedAt, AnnotationRotationFinishedAt,
}

// encodeSecret returns base (nil: a new Secret namespace/name) holding st, keeping labels and
// annotations that are not hdscale's. lastChange, when set, is recorded in AnnotationLastChange.
func encodeSecret(base *corev1.Secret, namespace, name string, st State, lastChange string) *corev1.Secret {
	var sec *corev1.Secret
	if base != nil {
		sec = base.DeepCopy()
	} else {
		sec = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
			Type:       corev1.SecretTypeTLS,
		}
	}
	if sec.Labels == nil {
		sec.Labels = map[string]string{}
	}
	sec.Labels[LabelManagedBy] = ManagedByValue
	if sec.Annotations == nil {
		sec.Annotations = map[string]string{}
	}
	for _, k := range stateAnnotationKeys {
		delete(sec.Annotations, k)
	}
	maps.Copy(sec.Annotations, stateAnnotations(st))
	if lastChange != "" {
		sec.Annotations[AnnotationLastChange] = lastChange
	}
	sec.Data = secretData(st)
	sec.StringData = nil
	return sec
}

// secretUpToDate reports whether sec already holds exactly st in canonical form.
func secretUpToDate(sec *corev1.Secret, st State) bool {
	if sec.Labels[LabelManagedBy] != ManagedByValue {
		return false
	}
	want := stateAnnotations(st)
	for _, k := range stateAnnotationKeys {
		got, ok := sec.Annotations[k]
		w, wok := want[k]
		if ok != wok || got != w {
			return false
		}
	}
	return maps.EqualFunc(sec.Data, secretData(st), bytes.Equal)
}
