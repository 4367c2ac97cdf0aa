package access

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"

	"github.com/hdscale/hdscale/internal/serving"
)

// NewPrivate returns what a component needs to serve its private endpoints:
// the self-signed TLS configuration for host and the delegating Guard.
func NewPrivate(ctx context.Context, kube kubernetes.Interface, o Options, host string, log logr.Logger, reg prometheus.Registerer) (serving.Private, error) {
	tlsCfg, err := SelfSignedTLS(host)
	if err != nil {
		return serving.Private{}, err
	}
	g, err := NewDelegating(ctx, kube, o, log, reg)
	if err != nil {
		return serving.Private{}, err
	}
	return serving.Private{TLSConfig: tlsCfg, Protect: g.Wrap}, nil
}

// Modes of the --metrics-auth flag.
const (
	// ModeDelegated asks the API server (the default, for every cluster).
	ModeDelegated = "delegated"
	// ModeNone serves plain HTTP without checks, on loopback only (local
	// runs and benchmarks).
	ModeNone = "none"
)

// ValidateMode reports an unknown --metrics-auth value.
func ValidateMode(mode string) error {
	if mode != ModeDelegated && mode != ModeNone {
		return fmt.Errorf("--metrics-auth %q: want %s or %s", mode, ModeDelegated, ModeNone)
	}
	return nil
}

// Planned is a stand-in for what Build returns for mode, so that options
// are validated (e.g. an open listener beyond loopback refused) before a
// Kubernetes client exists.
func Planned(mode string) serving.Private {
	if mode == ModeNone {
		return serving.Private{}
	}
	return serving.Private{TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}, Protect: func(h http.Handler) http.Handler { return h }}
}

// Build returns the Private for mode: NewPrivate with the default options
// for ModeDelegated, the open zero value for ModeNone.
func Build(ctx context.Context, mode string, kube kubernetes.Interface, host string, log logr.Logger, reg prometheus.Registerer) (serving.Private, error) {
	if err := ValidateMode(mode); err != nil {
		return serving.Private{}, err
	}
	if mode == ModeNone {
		log.Info("private endpoints are served without authentication (--metrics-auth=none)")
		return serving.Private{}, nil
	}
	return NewPrivate(ctx, kube, Default(), host, log, reg)
}
