package access

import (
	"crypto/tls"
	"fmt"

	certutil "k8s.io/client-go/util/cert"
)

// SelfSignedTLS returns the TLS configuration of a private listener: a
// certificate for host, self-signed in memory at start (valid a year; a
// restart renews it), as kube-scheduler serves its secure port without
// --cert-dir. It requests client certificates without verifying them: the
// Guard's x509 authenticator verifies them against the cluster's client CA,
// and a client without one may still present a bearer token.
func SelfSignedTLS(host string) (*tls.Config, error) {
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(host, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("generating a self-signed serving certificate for %q: %w", host, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading the self-signed serving certificate: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
	}, nil
}
