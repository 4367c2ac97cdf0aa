package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// secretFuzzKeys are the Data keys FuzzDecodeSecret fills, in the order of
// its arguments.
var secretFuzzKeys = [...]string{KeyCACert, KeyCAKey, KeyNextCACert, KeyNextCAKey, KeyPreviousCACert, KeyServingCert, KeyServingKey}

// FuzzDecodeSecret feeds Secret data maps to decodeState: the seven
// certificate and key slots, seeded with real material of every rotation
// phase (ECDSA keys as PKCS#8 and SEC 1, an Ed25519 key, a CA in the serving
// slot, keys of another CA, truncated PEM, garbage), plus a timestamp
// annotation. mix swaps slots so that mismatched keys and certificates meet.
// It checks: no panic; every certificate decoded
// parses again from its DER and from its canonical PEM, and each key matches
// its certificate's public key (the pairing parseKeyPair enforces); the CA,
// next CA and previous CA are CA certificates with certSign, the serving
// certificate is not a CA; next and previous CA are never both kept; a slot
// that holds something but was not decoded is named in Problems; and the
// canonical Secret written for the decoded state decodes to the same
// material and is up to date (a replica never rewrites it forever).
func FuzzDecodeSecret(f *testing.F) {
	o := e2eOptions(nil)
	ca := func(at time.Time) *KeyPair {
		kp, err := newCA(at, o.CAValidity)
		if err != nil {
			f.Fatal(err)
		}
		return kp
	}
	serving := func(ca *KeyPair, at time.Time) *KeyPair {
		kp, err := newServingCert(ca, at, o.CertValidity, o.DNSNames())
		if err != nil {
			f.Fatal(err)
		}
		return kp
	}
	// The states of stableState, phase1State and phase2State.
	started, switched := t0.Add(3*time.Minute), t0.Add(4*time.Minute)
	stable := State{CA: ca(t0)}
	stable.Serving = serving(stable.CA, t0)
	p1 := stable
	p1.NextCA, p1.RotationStartedAt = ca(started), started
	p2 := p1
	p2.BundlePublishedAt = started
	p2.PrevCA, p2.CA, p2.NextCA = p1.CA.Cert, p1.NextCA, nil
	p2.Serving, p2.SwitchedAt = serving(p2.CA, switched), switched
	other := ca(t0)
	_, edKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		f.Fatal(err)
	}
	edDER, _ := x509.MarshalPKCS8PrivateKey(edKey)
	ecDER, _ := x509.MarshalECPrivateKey(stable.Serving.Key.(*ecdsa.PrivateKey))

	add := func(d map[string][]byte, stamp string, mix uint8) {
		var s [len(secretFuzzKeys)][]byte
		for i, k := range secretFuzzKeys {
			s[i] = d[k]
		}
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], stamp, mix)
	}
	for _, st := range []State{stable, p1, p2} {
		d := secretData(st)
		add(d, "", 0)
		add(d, formatTime(t0), 0)
	}
	d := secretData(p1)
	add(d, "2030-03-01T12:00:00+01:00", 0x11)                                                    // next CA key in the CA slot
	add(map[string][]byte{KeyCACert: other.CertPEM, KeyCAKey: stable.CA.KeyPEM}, "yesterday", 0) // mismatched key
	add(map[string][]byte{KeyServingCert: other.CertPEM, KeyServingKey: other.KeyPEM}, "", 0)    // a CA as serving certificate
	add(map[string][]byte{KeyCACert: stable.CA.CertPEM[:len(stable.CA.CertPEM)/2], KeyCAKey: stable.CA.KeyPEM}, "", 0)
	add(map[string][]byte{KeyCACert: append(append([]byte{}, stable.CA.CertPEM...), other.CertPEM...), KeyCAKey: stable.CA.KeyPEM}, "", 0)
	add(map[string][]byte{KeyServingCert: stable.Serving.CertPEM, KeyServingKey: pemBlock(pemTypeECKey, ecDER)}, "", 0)
	add(map[string][]byte{KeyServingCert: stable.Serving.CertPEM, KeyServingKey: pemBlock(pemTypePKCS8Key, edDER)}, "", 0)
	add(map[string][]byte{KeyServingKey: pemBlock(pemTypeRSAKey, []byte{0x30, 0x03, 0x02, 0x01, 0x00})}, "", 0)
	add(map[string][]byte{KeyCACert: pemBlock("PRIVATE KEY", []byte("x")), KeyCAKey: []byte("garbage")}, "", 0)
	add(map[string][]byte{KeyPreviousCACert: stable.Serving.CertPEM, KeyNextCACert: []byte(" \n")}, "", 0)
	add(map[string][]byte{KeyPreviousCACert: append(pemBlock("EC PARAMETERS", []byte{6}), other.CertPEM...)}, "", 0)

	f.Fuzz(func(t *testing.T, caCrt, caKey, nextCrt, nextKey, prevCrt, servingCrt, servingKey []byte, stamp string, mix uint8) {
		slots := [len(secretFuzzKeys)][]byte{caCrt, caKey, nextCrt, nextKey, prevCrt, servingCrt, servingKey}
		// mix: the low nibble swaps slot i with slot j (high nibble).
		if i, j := int(mix&0x0f)%len(slots), int(mix>>4)%len(slots); mix != 0 {
			slots[i], slots[j] = slots[j], slots[i]
		}
		data := map[string][]byte{}
		for i, k := range secretFuzzKeys {
			if slots[i] != nil {
				data[k] = slots[i]
			}
		}
		sec := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "tls", Labels: map[string]string{LabelManagedBy: ManagedByValue},
				Annotations: map[string]string{AnnotationSwitchedAt: stamp}},
			Type: corev1.SecretTypeTLS,
			Data: data,
		}
		st := decodeState(sec)
		checkDecoded(t, sec, st, true)

		// The Secret a replica writes for st holds the same material and is
		// up to date once decoded. (A timestamp whose UTC form has no
		// four-digit year, e.g. 0000-01-01T00:00:00+01:00, parses but cannot
		// be written back as RFC 3339; such a hand-edited annotation is
		// rewritten once and then dropped, so it is left out here.)
		if y := st.SwitchedAt.UTC().Year(); y < 0 || y > 9999 {
			st.SwitchedAt = time.Time{}
		}
		enc := encodeSecret(sec, "ns", "tls", st, "fuzz")
		if err := checkOwnership(enc); err != nil {
			t.Fatalf("encoded Secret is not ours: %v", err)
		}
		back := decodeState(enc)
		checkDecoded(t, enc, back, false)
		if !sameMaterial(st, back) {
			t.Fatalf("re-encoding changed the material: phase %s -> %s, problems %q", st.Phase(), back.Phase(), back.Problems)
		}
		if !secretUpToDate(enc, back) {
			t.Fatalf("the canonical Secret of the decoded state is not up to date (a replica would rewrite it forever); problems %q", back.Problems)
		}
	})
}

// checkDecoded checks the invariants of a state decoded from sec; deep also
// parses the certificates and keys again.
func checkDecoded(t *testing.T, sec *corev1.Secret, st State, deep bool) {
	t.Helper()
	for _, p := range []struct {
		name string
		kp   *KeyPair
		ca   bool
	}{{KeyCACert, st.CA, true}, {KeyNextCACert, st.NextCA, true}, {KeyServingCert, st.Serving, false}} {
		if p.kp == nil {
			continue
		}
		if deep {
			checkKeyPair(t, p.name, p.kp)
		}
		if !p.ca && p.kp.Cert.IsCA {
			t.Fatalf("%s: a CA certificate decoded as the serving certificate", p.name)
		}
		if p.ca {
			if err := isCA(p.kp.Cert); err != nil {
				t.Fatalf("%s decoded but not a usable CA: %v", p.name, err)
			}
		}
	}
	if st.PrevCA != nil {
		if err := isCA(st.PrevCA); err != nil {
			t.Fatalf("%s decoded but not a usable CA: %v", KeyPreviousCACert, err)
		}
		if deep {
			if _, err := x509.ParseCertificate(st.PrevCA.Raw); err != nil {
				t.Fatalf("%s: DER does not parse again: %v", KeyPreviousCACert, err)
			}
		}
	}
	if st.NextCA != nil && st.PrevCA != nil {
		t.Fatal("both next and previous CA kept")
	}
	if len(sec.Data) == 0 {
		if st.CA != nil || st.NextCA != nil || st.PrevCA != nil || st.Serving != nil {
			t.Fatal("material decoded from an empty Secret")
		}
		return
	}
	has := func(k string) bool { return len(sec.Data[k]) > 0 }
	named := func(k string) bool {
		for _, p := range st.Problems {
			if strings.Contains(p, k) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		decoded bool
		keys    []string
		always  bool // the slot is required: missing counts as a problem
	}{
		{st.CA != nil, []string{KeyCACert, KeyCAKey}, true},
		{st.Serving != nil, []string{KeyServingCert, KeyServingKey}, true},
		{st.NextCA != nil, []string{KeyNextCACert, KeyNextCAKey}, false},
		{st.PrevCA != nil, []string{KeyPreviousCACert}, false},
	} {
		present := c.always
		for _, k := range c.keys {
			present = present || has(k)
		}
		if !c.decoded && present && !named(c.keys[0]) {
			t.Fatalf("%s present but neither decoded nor named in problems %q", c.keys[0], st.Problems)
		}
	}
	for _, p := range st.Problems {
		if p == "" {
			t.Fatal("empty problem")
		}
	}
}

// checkKeyPair checks that kp's certificate parses again and its key
// matches it.
func checkKeyPair(t *testing.T, name string, kp *KeyPair) {
	t.Helper()
	if kp.Cert == nil || kp.Key == nil {
		t.Fatalf("%s: incomplete key pair %+v", name, kp)
	}
	c, err := x509.ParseCertificate(kp.Cert.Raw)
	if err != nil {
		t.Fatalf("%s: DER does not parse again: %v", name, err)
	}
	if fromPEM, err := parseCertPEM(kp.CertPEM); err != nil || !fromPEM.Equal(c) {
		t.Fatalf("%s: canonical PEM does not give the certificate back: %v", name, err)
	}
	pub, ok := kp.Key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(c.PublicKey) {
		t.Fatalf("%s: key does not match the certificate", name)
	}
	key, err := parseKeyPEM(kp.KeyPEM)
	if err != nil {
		t.Fatalf("%s: stored key PEM does not parse again: %v", name, err)
	}
	if kpub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !kpub.Equal(c.PublicKey) {
		t.Fatalf("%s: stored key PEM is another key", name)
	}
}

// sameMaterial reports whether a and b hold the same certificates and keys.
func sameMaterial(a, b State) bool {
	samePair := func(x, y *KeyPair) bool {
		if x == nil || y == nil {
			return x == y
		}
		return x.Cert.Equal(y.Cert) && bytes.Equal(x.KeyPEM, y.KeyPEM)
	}
	samePrev := a.PrevCA == nil && b.PrevCA == nil || a.PrevCA != nil && b.PrevCA != nil && a.PrevCA.Equal(b.PrevCA)
	return samePair(a.CA, b.CA) && samePair(a.NextCA, b.NextCA) && samePair(a.Serving, b.Serving) && samePrev &&
		a.SwitchedAt.Equal(b.SwitchedAt) && bytes.Equal(a.Bundle(), b.Bundle())
}
