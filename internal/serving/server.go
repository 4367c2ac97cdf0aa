package serving

import (
	"net/http"
	"time"
)

// Server timeouts every hdscale listener uses; WriteTimeout is the caller's
// (a pprof profile on a health listener takes longer than an admission).
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// NewServer returns an http.Server for h with every timeout set, so a slow
// or stalled client cannot hold a connection or a goroutine for long:
// headers within ReadHeaderTimeout, the body within ReadTimeout, the
// response within writeTimeout, idle keep-alive connections closed after
// IdleTimeout, headers at most MaxHeaderBytes.
func NewServer(h http.Handler, writeTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}
