package serving

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"
)

// ShutdownGrace is how long in-flight requests get once the context ends.
const ShutdownGrace = 10 * time.Second

// Run serves srv on ln until ctx ends, then shuts down gracefully. When
// srv.TLSConfig is set it serves TLS with the certificates it provides.
func Run(ctx context.Context, log logr.Logger, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	// Decide once, before serving: Serve configures HTTP/2, which sets
	// srv.TLSConfig, so reading it afterwards would race (and misreport).
	useTLS := srv.TLSConfig != nil
	go func() {
		var err error
		if useTLS {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	log.Info("serving", "addr", ln.Addr().String(), "tls", useTLS)
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down %s: %w", ln.Addr(), err)
	}
	log.Info("stopped serving", "addr", ln.Addr().String())
	return nil
}
