package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// GetCertificate returns the serving certificate currently in the Secret, for
// tls.Config.GetCertificate. It never blocks: the value is swapped atomically whenever the
// Secret informer (or this replica's own write) delivers a new certificate.
func (m *Manager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := m.current.Load(); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("certs: no serving certificate loaded from Secret %s/%s yet", m.opts.Namespace, m.opts.SecretName)
}

// loadFromSecret serves the certificate of sec if sec is hdscale's Secret and holds a usable
// key pair; anything else is left to reconcile to report.
func (m *Manager) loadFromSecret(sec *corev1.Secret) {
	if sec.Namespace != m.opts.Namespace || sec.Name != m.opts.SecretName || checkOwnership(sec) != nil {
		return
	}
	cert, err := tls.X509KeyPair(sec.Data[KeyServingCert], sec.Data[KeyServingKey])
	if err == nil && cert.Leaf == nil { // GODEBUG x509keypairleaf=0
		cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0])
	}
	if err != nil {
		m.metrics.errors.WithLabelValues(opLoad).Inc()
		m.log.Error(err, "cannot load the serving certificate from the Secret; keeping the current one", "secret", m.secretRef())
		return
	}
	m.setServing(&cert)
}

// loadFromState serves the serving certificate of st (no-op without one).
func (m *Manager) loadFromState(st State) {
	if st.Serving == nil {
		return
	}
	m.setServing(&tls.Certificate{
		Certificate: [][]byte{st.Serving.Cert.Raw},
		PrivateKey:  st.Serving.Key,
		Leaf:        st.Serving.Cert,
	})
}

func (m *Manager) setServing(cert *tls.Certificate) {
	if cert.Leaf == nil || len(cert.Certificate) == 0 {
		return
	}
	if old := m.current.Load(); old != nil && bytes.Equal(old.Certificate[0], cert.Certificate[0]) {
		return
	}
	m.current.Store(cert)
	m.metrics.notAfter.WithLabelValues(kindServing).Set(float64(cert.Leaf.NotAfter.Unix()))
	m.log.Info("serving certificate loaded", "serial", cert.Leaf.SerialNumber.Text(16),
		"issuer", cert.Leaf.Issuer.CommonName, "notAfter", cert.Leaf.NotAfter.UTC(), "dnsNames", cert.Leaf.DNSNames)
}
