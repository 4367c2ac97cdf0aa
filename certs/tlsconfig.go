package certs

import "crypto/tls"

// tls12CipherSuites are the TLS 1.2 suites offered: ECDHE key exchange with AEAD ciphers only.
// (TLS 1.3 suites are not configurable and all qualify.)
var tls12CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ServerTLSConfig is the webhook server's TLS configuration: certificates come from get (normally
// (*Manager).GetCertificate, so rotations apply to new connections without a restart), TLS 1.2
// is the minimum, and TLS 1.2 is limited to ECDHE with AEAD ciphers.
func ServerTLSConfig(get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   append([]uint16(nil), tls12CipherSuites...),
		GetCertificate: get,
	}
}
