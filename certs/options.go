package certs

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
)

// Defaults applied by Options.Default.
const (
	DefaultSecretName       = "hdscale-webhook-tls"
	DefaultClusterDomain    = "cluster.local"
	DefaultCAValidity       = 5 * 365 * 24 * time.Hour
	DefaultCertValidity     = 365 * 24 * time.Hour
	DefaultRotateFraction   = 1.0 / 3
	DefaultPropagationDelay = 5 * time.Minute
	DefaultOverlap          = 10 * time.Minute
	DefaultResyncPeriod     = 5 * time.Minute

	// maxRotateFraction keeps renewal strictly inside a certificate's lifetime even with the
	// NotBefore backdating (see backdate), so a fresh certificate is never immediately due.
	maxRotateFraction = 0.8
)

// Options configure a Manager. Call Default to fill zero fields, then Validate.
type Options struct {
	// Namespace and SecretName locate the Secret holding the CA and the serving certificate.
	Namespace  string
	SecretName string
	// ServiceName is the webhook Service (in Namespace); its in-cluster DNS names are the
	// serving certificate's SANs.
	ServiceName string
	// ClusterDomain is the cluster DNS suffix (default cluster.local).
	ClusterDomain string
	// ExtraDNSNames are additional SANs (wildcards allowed).
	ExtraDNSNames []string

	// Names of the hdscale webhook configurations whose caBundle is kept current. Every webhook
	// inside each is patched.
	MutatingWebhookConfigurations   []string
	ValidatingWebhookConfigurations []string

	// CAValidity and CertValidity are the lifetimes of newly issued CA and serving certificates.
	CAValidity   time.Duration
	CertValidity time.Duration
	// A certificate (CA or serving) is renewed once no more than RotateBefore of its lifetime
	// remains; when RotateBefore is zero, once no more than RotateFraction of its lifetime remains.
	RotateBefore   time.Duration
	RotateFraction float64
	// PropagationDelay is how long a CA bundle containing a new CA must have been in every webhook
	// configuration before serving certificates are issued from the new CA (time for every API
	// server to observe the new caBundle).
	PropagationDelay time.Duration
	// Overlap is how long the old CA stays in the bundle after serving certificates switched to
	// the new CA (time for every replica's informer to load the new serving certificate).
	Overlap time.Duration
	// ResyncPeriod is how often everything is re-checked even when no event arrives.
	ResyncPeriod time.Duration

	// Clock is the time source (default: the real clock).
	Clock clock.Clock
}

// Default fills zero-valued fields with the package defaults.
func (o *Options) Default() {
	if o.SecretName == "" {
		o.SecretName = DefaultSecretName
	}
	if o.ClusterDomain == "" {
		o.ClusterDomain = DefaultClusterDomain
	}
	if o.CAValidity == 0 {
		o.CAValidity = DefaultCAValidity
	}
	if o.CertValidity == 0 {
		o.CertValidity = DefaultCertValidity
	}
	if o.RotateFraction == 0 {
		o.RotateFraction = DefaultRotateFraction
	}
	if o.PropagationDelay == 0 {
		o.PropagationDelay = DefaultPropagationDelay
	}
	if o.Overlap == 0 {
		o.Overlap = DefaultOverlap
	}
	if o.ResyncPeriod == 0 {
		o.ResyncPeriod = DefaultResyncPeriod
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// Validate reports every problem with o (which should have been defaulted) in one error.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	check := func(field, value string, fn func(string) []string) {
		if value == "" {
			bad("certs options: %s is required", field)
			return
		}
		if msgs := fn(value); len(msgs) > 0 {
			bad("certs options: %s %q is invalid: %s", field, value, strings.Join(msgs, "; "))
		}
	}
	check("Namespace", o.Namespace, validation.IsDNS1123Label)
	check("SecretName", o.SecretName, validation.IsDNS1123Subdomain)
	check("ServiceName", o.ServiceName, validation.IsDNS1035Label)
	check("ClusterDomain", o.ClusterDomain, validation.IsDNS1123Subdomain)
	for _, n := range o.ExtraDNSNames {
		fn := validation.IsDNS1123Subdomain
		if strings.HasPrefix(n, "*.") {
			fn = validation.IsWildcardDNS1123Subdomain
		}
		check("ExtraDNSNames entry", n, fn)
	}
	for _, list := range []struct {
		field string
		names []string
	}{
		{"MutatingWebhookConfigurations", o.MutatingWebhookConfigurations},
		{"ValidatingWebhookConfigurations", o.ValidatingWebhookConfigurations},
	} {
		seen := map[string]bool{}
		for _, n := range list.names {
			check(list.field+" entry", n, validation.IsDNS1123Subdomain)
			if seen[n] {
				bad("certs options: %s lists %q twice", list.field, n)
			}
			seen[n] = true
		}
	}

	positive := func(field string, d time.Duration) bool {
		if d <= 0 {
			bad("certs options: %s must be positive, got %v", field, d)
			return false
		}
		return true
	}
	okCA := positive("CAValidity", o.CAValidity)
	okCert := positive("CertValidity", o.CertValidity)
	okPD := positive("PropagationDelay", o.PropagationDelay)
	okOv := positive("Overlap", o.Overlap)
	positive("ResyncPeriod", o.ResyncPeriod)
	if okCA && okCert && o.CertValidity > o.CAValidity {
		bad("certs options: CertValidity %v must not exceed CAValidity %v", o.CertValidity, o.CAValidity)
	}
	okRotate := true
	switch {
	case o.RotateBefore < 0:
		bad("certs options: RotateBefore must not be negative, got %v", o.RotateBefore)
		okRotate = false
	case o.RotateBefore > 0:
		if okCert && o.RotateBefore >= o.CertValidity {
			bad("certs options: RotateBefore %v must be shorter than CertValidity %v", o.RotateBefore, o.CertValidity)
			okRotate = false
		}
	default:
		if !(o.RotateFraction > 0 && o.RotateFraction <= maxRotateFraction) {
			bad("certs options: RotateFraction must be in (0, %v], got %v", maxRotateFraction, o.RotateFraction)
			okRotate = false
		}
	}
	if okRotate && okCA && okPD && okOv {
		window := o.renewWindow(o.CAValidity)
		if window <= o.PropagationDelay+o.Overlap {
			bad("certs options: the CA renewal window (%v of CAValidity %v) must exceed PropagationDelay+Overlap (%v): a CA rotation must finish before the old CA expires",
				window, o.CAValidity, o.PropagationDelay+o.Overlap)
		}
	}
	if o.Clock == nil {
		bad("certs options: Clock is nil (call Default)")
	}
	return errors.Join(errs...)
}

// renewWindow is how long before the end of a certificate lifetime renewal starts.
func (o Options) renewWindow(lifetime time.Duration) time.Duration {
	if o.RotateBefore > 0 {
		return o.RotateBefore
	}
	return time.Duration(float64(lifetime) * o.RotateFraction)
}
