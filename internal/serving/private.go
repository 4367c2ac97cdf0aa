package serving

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Private is how a component serves its private endpoints (/metrics,
// /explain, /debug/pprof): over TLS, each request through Protect, which
// authenticates and authorizes it (internal/access builds both). The zero
// Private serves plain HTTP without checks and is accepted only on a
// loopback address (local runs and benchmarks).
type Private struct {
	// TLSConfig serves the listener; it should request client
	// certificates so that Protect can authenticate them.
	TLSConfig *tls.Config
	// Protect wraps the private mux; it answers 401/403 itself.
	Protect func(http.Handler) http.Handler
}

// Open reports whether p serves without authentication.
func (p Private) Open() bool { return p.Protect == nil }

// Validate reports a Private that would serve addr unprotected beyond
// loopback, or protected in clear text.
func (p Private) Validate(addr string) error {
	if p.Open() {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("private endpoints address %q: %w", addr, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("private endpoints on %q would be open to the network: without authentication they may listen on a loopback address only", addr)
		}
		return nil
	}
	if p.TLSConfig == nil {
		return errors.New("private endpoints: authentication without TLS would send credentials in clear text")
	}
	return nil
}

// Server returns the server of mux: behind Protect over TLS, or plain.
func (p Private) Server(mux http.Handler, writeTimeout time.Duration) *http.Server {
	if p.Open() {
		return NewServer(mux, writeTimeout)
	}
	s := NewServer(p.Protect(mux), writeTimeout)
	s.TLSConfig = p.TLSConfig.Clone()
	return s
}
