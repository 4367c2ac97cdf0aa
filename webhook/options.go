package webhook

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"

	"github.com/hdscale/hdscale/internal/serving"
)

// Defaults applied by Options.Default.
const (
	DefaultListenAddr    = ":8443"
	DefaultHealthAddr    = ":8081"
	DefaultMetricsAddr   = ":8444"
	DefaultSchedulerName = "hdscale-scheduler"
)

// Options configure Run. Call Default, then Validate.
type Options struct {
	// ListenAddr is the HTTPS address of /mutate and /validate-namespace.
	ListenAddr string
	// HealthAddr is the plain-HTTP address of /healthz and /readyz.
	HealthAddr string
	// MetricsAddr is the address of /metrics, served as Private says.
	MetricsAddr string
	// Private protects MetricsAddr (internal/access.NewPrivate); the zero
	// value serves it openly and is valid on a loopback address only.
	Private serving.Private
	// ConfigPath is the matching-rules YAML file ("" = DefaultConfig).
	ConfigPath string
	// Config, when set, is used instead of reading ConfigPath (tests, e2e).
	Config *Config
	// SchedulerName is the scheduler runtime pods get.
	SchedulerName string
	// Namespace is the webhook's own namespace; its pods are never mutated.
	Namespace string
	// MaxRequestBytes caps an AdmissionReview body (413 beyond).
	MaxRequestBytes int64
	// ResyncPeriod of the informers (0: none; events suffice).
	ResyncPeriod time.Duration
	// SchedulerLease is the name of hdscale-scheduler's leader lease in
	// Namespace ("" or no Namespace: the scheduler is not watched). While no
	// leader renews it, runtime pods get an admission warning and, from one
	// webhook replica (leader election on lease "hdscale-webhook"), a
	// Warning event while they stay Pending.
	SchedulerLease string
	// Identity names this replica in leader election (default: hostname).
	Identity string
	// ShapeTolerance is the relative difference in allocatable CPU and
	// memory within which pool nodes count as equal; it must equal the
	// extender's --shape-tolerance (both flags default to
	// pool.DefaultShapeTolerance; 0 means equal to the millicore and byte).
	ShapeTolerance float64
	// TLSConfig, when set, is the base TLS configuration of the webhook
	// server (e.g. certs.ServerTLSConfig); Run's getCertificate is set on a
	// clone unless it provides certificates itself. Default: TLS 1.2 minimum.
	TLSConfig *tls.Config
	// ReadyChecks are extra named /readyz checks (e.g. the TLS manager's).
	ReadyChecks map[string]serving.Check
	// Listening, when set, is called with the bound addresses once every
	// listener is open (useful with ":0" in tests).
	Listening func(Addrs)
	// Clock times requests (default: the real clock).
	Clock clock.PassiveClock
}

// Default fills zero-valued fields.
func (o *Options) Default() {
	if o.ListenAddr == "" {
		o.ListenAddr = DefaultListenAddr
	}
	if o.HealthAddr == "" {
		o.HealthAddr = DefaultHealthAddr
	}
	if o.MetricsAddr == "" {
		o.MetricsAddr = DefaultMetricsAddr
	}
	if o.SchedulerName == "" {
		o.SchedulerName = DefaultSchedulerName
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// Validate reports every problem with o in one error.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("webhook options: "+format, args...)) }
	addrs := []struct{ name, addr string }{{"ListenAddr", o.ListenAddr}, {"HealthAddr", o.HealthAddr}, {"MetricsAddr", o.MetricsAddr}}
	for i, a := range addrs {
		if _, port, err := net.SplitHostPort(a.addr); err != nil || port == "" {
			bad("%s %q must be host:port (host may be empty)", a.name, a.addr)
		}
		for _, b := range addrs[:i] {
			if a.addr == b.addr && !strings.HasSuffix(a.addr, ":0") {
				bad("%s and %s are both %q", b.name, a.name, a.addr)
			}
		}
	}
	if err := o.Private.Validate(o.MetricsAddr); err != nil {
		bad("%v", err)
	}
	if msgs := validation.IsDNS1123Subdomain(o.SchedulerName); len(msgs) > 0 {
		bad("SchedulerName %q: %s", o.SchedulerName, strings.Join(msgs, "; "))
	}
	if o.Namespace != "" {
		if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
			bad("Namespace %q: %s", o.Namespace, strings.Join(msgs, "; "))
		}
	}
	if o.MaxRequestBytes < 64<<10 || o.MaxRequestBytes > 64<<20 {
		bad("MaxRequestBytes %d must be between 64KiB and 64MiB", o.MaxRequestBytes)
	}
	if !(o.ShapeTolerance >= 0 && o.ShapeTolerance < 1) { // also rejects NaN
		bad("ShapeTolerance %v must be in [0, 1)", o.ShapeTolerance)
	}
	if o.ResyncPeriod < 0 {
		bad("ResyncPeriod must not be negative, got %v", o.ResyncPeriod)
	}
	if o.Config != nil {
		if err := o.Config.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Clock == nil {
		bad("Clock is nil (call Default)")
	}
	return errors.Join(errs...)
}

// Addrs are the bound addresses of Run's listeners.
type Addrs struct {
	Webhook, Health, Metrics net.Addr
}
