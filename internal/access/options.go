package access

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults of Options: kube-scheduler's and metrics-server's values.
const (
	DefaultTokenCacheTTL = 10 * time.Second
	DefaultAllowCacheTTL = 10 * time.Second
	DefaultDenyCacheTTL  = 10 * time.Second
	DefaultClientCA      = "kube-system/extension-apiserver-authentication"
	DefaultClientCAKey   = "client-ca-file"
	DefaultReviewTimeout = 10 * time.Second
	minTTL, maxTTL       = time.Second, time.Hour
)

// Options configure the delegating guard.
type Options struct {
	// TokenCacheTTL is how long a TokenReview answer is reused.
	TokenCacheTTL time.Duration
	// AllowCacheTTL and DenyCacheTTL are how long SubjectAccessReview
	// answers are reused.
	AllowCacheTTL time.Duration
	DenyCacheTTL  time.Duration
	// ClientCAConfigMap is namespace/name of the ConfigMap holding the
	// cluster's client CA under ClientCAKey; empty: client certificates are
	// not accepted, only bearer tokens.
	ClientCAConfigMap string
	ClientCAKey       string
	// ReviewTimeout bounds one TokenReview or SubjectAccessReview call.
	ReviewTimeout time.Duration
}

// Default returns the options with every default set.
func Default() Options {
	return Options{
		TokenCacheTTL:     DefaultTokenCacheTTL,
		AllowCacheTTL:     DefaultAllowCacheTTL,
		DenyCacheTTL:      DefaultDenyCacheTTL,
		ClientCAConfigMap: DefaultClientCA,
		ClientCAKey:       DefaultClientCAKey,
		ReviewTimeout:     DefaultReviewTimeout,
	}
}

// Validate reports every bad field at once.
func (o Options) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"TokenCacheTTL", o.TokenCacheTTL},
		{"AllowCacheTTL", o.AllowCacheTTL},
		{"DenyCacheTTL", o.DenyCacheTTL},
		{"ReviewTimeout", o.ReviewTimeout},
	} {
		if d.v < minTTL || d.v > maxTTL {
			errs = append(errs, fmt.Errorf("%s %s: must be between %s and %s", d.name, d.v, minTTL, maxTTL))
		}
	}
	if o.ClientCAConfigMap != "" {
		if _, _, err := o.clientCA(); err != nil {
			errs = append(errs, err)
		}
		if o.ClientCAKey == "" {
			errs = append(errs, errors.New("ClientCAKey: empty while ClientCAConfigMap is set"))
		}
	}
	return errors.Join(errs...)
}

// clientCA splits ClientCAConfigMap into namespace and name.
func (o Options) clientCA() (namespace, name string, err error) {
	ns, n, ok := strings.Cut(o.ClientCAConfigMap, "/")
	if !ok || ns == "" || n == "" || strings.Contains(n, "/") {
		return "", "", fmt.Errorf("ClientCAConfigMap %q: want namespace/name", o.ClientCAConfigMap)
	}
	return ns, n, nil
}
