package certs

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCheckOwnership(t *testing.T) {
	t.Parallel()
	ours := map[string]string{LabelManagedBy: ManagedByValue}
	tests := []struct {
		name        string
		labels      map[string]string
		annotations map[string]string
		typ         corev1.SecretType
		want        string // error substring; "" means ours
	}{
		{name: "ours", labels: ours, typ: corev1.SecretTypeTLS},
		{name: "ours, Opaque", labels: ours, typ: corev1.SecretTypeOpaque},
		{name: "ours, known format", labels: ours, annotations: map[string]string{AnnotationFormat: FormatV1}, typ: corev1.SecretTypeTLS},
		{name: "no labels", typ: corev1.SecretTypeTLS, want: "is not managed by hdscale (label app.kubernetes.io/managed-by=hdscale is missing"},
		{name: "managed by someone else", labels: map[string]string{LabelManagedBy: "Helm"}, typ: corev1.SecretTypeTLS, want: `found "Helm"`},
		{name: "newer format", labels: ours, annotations: map[string]string{AnnotationFormat: "v2"}, typ: corev1.SecretTypeTLS, want: "only understands"},
		{name: "wrong type", labels: ours, typ: corev1.SecretTypeDockerConfigJson, want: "cannot be changed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sec := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "tls", Labels: tc.labels, Annotations: tc.annotations},
				Type:       tc.typ,
			}
			err := checkOwnership(sec)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("checkOwnership = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrForeignSecret) {
				t.Fatalf("checkOwnership = %v, want ErrForeignSecret containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "ns/tls") {
				t.Errorf("error %q does not name the Secret", err)
			}
		})
	}
}

func TestSecretRoundTrip(t *testing.T) {
	t.Parallel()
	o := e2eOptions(nil)
	started, switched := t0.Add(3*time.Minute), t0.Add(3*time.Minute+15*time.Second)
	tests := []struct {
		name      string
		st        func(t *testing.T) State
		wantPhase Phase
		wantKeys  []string
	}{
		{name: "stable", st: func(t *testing.T) State {
			st := stableState(t, t0, o)
			st.RotationFinishedAt = t0.Add(-time.Hour)
			return st
		}, wantPhase: PhaseStable,
			wantKeys: []string{KeyCABundle, KeyCACert, KeyCAKey, KeyServingCert, KeyServingKey}},
		{name: "phase 1", st: func(t *testing.T) State {
			st := phase1State(t, t0, started, o)
			st.BundlePublishedAt = started.Add(1500 * time.Millisecond)
			return st
		}, wantPhase: PhaseCAAdded,
			wantKeys: []string{KeyCABundle, KeyCACert, KeyCAKey, KeyNextCACert, KeyNextCAKey, KeyServingCert, KeyServingKey}},
		{name: "phase 2", st: func(t *testing.T) State { return phase2State(t, t0, started, switched, o) }, wantPhase: PhaseCASwitched,
			wantKeys: []string{KeyCABundle, KeyCACert, KeyCAKey, KeyPreviousCACert, KeyServingCert, KeyServingKey}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := tc.st(t)
			base := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
				Namespace: "ns", Name: "tls", ResourceVersion: "42",
				Labels:      map[string]string{"team": "infra"},
				Annotations: map[string]string{"note": "keep me", AnnotationSwitchedAt: "stale"},
			}}
			sec := encodeSecret(base, "ns", "tls", st, "why")
			if sec.ResourceVersion != "42" || sec.Labels["team"] != "infra" || sec.Annotations["note"] != "keep me" {
				t.Errorf("foreign metadata not preserved: %+v", sec.ObjectMeta)
			}
			if sec.Labels[LabelManagedBy] != ManagedByValue || sec.Annotations[AnnotationFormat] != FormatV1 ||
				sec.Annotations[AnnotationPhase] != string(tc.wantPhase) || sec.Annotations[AnnotationLastChange] != "why" {
				t.Errorf("ownership/phase annotations wrong: labels %v annotations %v", sec.Labels, sec.Annotations)
			}
			var keys []string
			for k := range sec.Data {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			want := slices.Sorted(slices.Values(tc.wantKeys))
			if !slices.Equal(keys, want) {
				t.Errorf("data keys %v, want %v", keys, want)
			}
			if !bytes.Equal(sec.Data[KeyCABundle], st.Bundle()) {
				t.Error("ca.crt is not the bundle")
			}
			if err := checkOwnership(sec); err != nil {
				t.Fatalf("encoded Secret is not ours: %v", err)
			}

			got := decodeState(sec)
			if len(got.Problems) > 0 {
				t.Fatalf("problems decoding: %v", got.Problems)
			}
			if got.Phase() != tc.wantPhase || !bytes.Equal(got.Bundle(), st.Bundle()) ||
				!got.Serving.Cert.Equal(st.Serving.Cert) || !got.CA.Cert.Equal(st.CA.Cert) {
				t.Errorf("decoded state differs: phase %s", got.Phase())
			}
			for _, p := range []struct{ got, want time.Time }{
				{got.RotationStartedAt, st.RotationStartedAt}, {got.BundlePublishedAt, st.BundlePublishedAt},
				{got.SwitchedAt, st.SwitchedAt}, {got.RotationFinishedAt, st.RotationFinishedAt},
			} {
				if !p.got.Equal(p.want) {
					t.Errorf("timestamp %v, want %v", p.got, p.want)
				}
			}
			if !secretUpToDate(sec, got) {
				t.Error("secretUpToDate(encoded, decoded) = false: a replica would rewrite it forever")
			}
		})
	}
}

func TestSecretUpToDateDetectsTampering(t *testing.T) {
	t.Parallel()
	o := e2eOptions(nil)
	st := stableState(t, t0, o)
	tests := []struct {
		name   string
		tamper func(*corev1.Secret)
	}{
		{name: "bundle edited", tamper: func(s *corev1.Secret) { s.Data[KeyCABundle] = nil }},
		{name: "phase annotation edited", tamper: func(s *corev1.Secret) { s.Annotations[AnnotationPhase] = "ca-added" }},
		{name: "format annotation removed", tamper: func(s *corev1.Secret) { delete(s.Annotations, AnnotationFormat) }},
		{name: "extra data key", tamper: func(s *corev1.Secret) { s.Data["extra"] = []byte("x") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sec := encodeSecret(nil, "ns", "tls", st, "")
			tc.tamper(sec)
			if secretUpToDate(sec, decodeState(sec)) {
				t.Fatal("tampering not detected")
			}
		})
	}
}

func TestDecodeProblems(t *testing.T) {
	t.Parallel()
	o := e2eOptions(nil)
	st := phase2State(t, t0, t0.Add(3*time.Minute), t0.Add(4*time.Minute), o)
	other := mustCA(t, t0, time.Hour)
	tests := []struct {
		name        string
		tamper      func(map[string][]byte, map[string]string)
		wantProblem string // "" means no problems
		check       func(t *testing.T, got State)
	}{
		{name: "empty Secret is adoptable", tamper: func(d map[string][]byte, _ map[string]string) { clear(d) },
			check: func(t *testing.T, got State) {
				if got.CA != nil || got.Serving != nil {
					t.Error("material from nothing")
				}
			}},
		{name: "corrupt CA", tamper: func(d map[string][]byte, _ map[string]string) { d[KeyCACert] = []byte("garbage") },
			wantProblem: "ca-current.crt/ca-current.key",
			check: func(t *testing.T, got State) {
				if got.CA != nil {
					t.Error("corrupt CA decoded")
				}
			}},
		{name: "CA key from another CA", tamper: func(d map[string][]byte, _ map[string]string) { d[KeyCAKey] = other.KeyPEM },
			wantProblem: "does not match"},
		{name: "serving slot holds a CA", tamper: func(d map[string][]byte, _ map[string]string) {
			d[KeyServingCert], d[KeyServingKey] = other.CertPEM, other.KeyPEM
		}, wantProblem: "is a CA certificate",
			check: func(t *testing.T, got State) {
				if got.Serving != nil {
					t.Error("CA accepted as serving certificate")
				}
			}},
		{name: "both next and previous CA", tamper: func(d map[string][]byte, _ map[string]string) {
			d[KeyNextCACert], d[KeyNextCAKey] = other.CertPEM, other.KeyPEM
		}, wantProblem: "discarding ca-next.crt",
			check: func(t *testing.T, got State) {
				if got.Phase() != PhaseCASwitched {
					t.Errorf("phase %s, want %s", got.Phase(), PhaseCASwitched)
				}
			}},
		{name: "bad timestamp", tamper: func(_ map[string][]byte, a map[string]string) { a[AnnotationSwitchedAt] = "yesterday" },
			wantProblem: "annotation hdscale.io/ca-switched-at",
			check: func(t *testing.T, got State) {
				if !got.SwitchedAt.IsZero() {
					t.Error("bad timestamp decoded")
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sec := encodeSecret(nil, "ns", "tls", st, "")
			tc.tamper(sec.Data, sec.Annotations)
			got := decodeState(sec)
			problems := strings.Join(got.Problems, "; ")
			if tc.wantProblem == "" && problems != "" || !strings.Contains(problems, tc.wantProblem) {
				t.Errorf("problems %q, want %q", problems, tc.wantProblem)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}
