package extender

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/hdscale/hdscale/internal/pool"
	"github.com/hdscale/hdscale/internal/serving"
)

// Options configure the extender.
type Options struct {
	// ListenAddr serves the extender protocol (/filter, /prioritize). The
	// extender runs as a sidecar of kube-scheduler, so it listens on loopback.
	ListenAddr string
	// HealthAddr serves /healthz and /readyz (plain HTTP, for the kubelet).
	HealthAddr string
	// PrivateAddr serves /metrics, /explain and (with Profiling)
	// /debug/pprof/, protected as Private says.
	PrivateAddr string
	// Private protects PrivateAddr (internal/access.NewPrivate); the zero
	// value serves it openly and is valid on a loopback address only.
	Private serving.Private
	// MetricsInterval is how often NodeMetrics are polled from metrics.k8s.io.
	MetricsInterval time.Duration
	// MetricsMaxAge is the age beyond which a node's sample is stale and the
	// requests-based fallback is used; 0 means 3 × MetricsInterval.
	MetricsMaxAge time.Duration
	// ShapeTolerance is the relative difference in allocatable CPU and memory
	// from the pool's reference shape a node may have and still count as equal.
	ShapeTolerance float64
	// HotThreshold, when > 0, rejects nodes whose live effective CPU
	// utilisation (0..1) is at or above it, unless that would reject every
	// node. 0 turns it off.
	HotThreshold float64
	// ReservationTTL bounds how long a predicted placement counts when the
	// pod is never seen bound.
	ReservationTTL time.Duration
	// FilterToWinner answers /filter for a runtime pod with the single node
	// /prioritize would make the winner (the others are left out of the
	// answer, in neither failure map), so kube-scheduler takes that node
	// without a scoring round: one extender call per pod instead of two, and
	// an answer of one name instead of every candidate's. The placement is
	// the same (the hdscale-scheduler profile makes the extender's score
	// decisive; see docs/extender.md). Default true; false keeps the
	// classic filter-then-prioritize exchange.
	FilterToWinner bool
	// ScoreAllNodes lists every candidate in /prioritize responses. By
	// default only the winner is listed: kube-scheduler counts a node missing
	// from the list as 0, and the winner is a unique maximum of at least 1
	// whose every point outweighs all other score plugins (the profile's
	// extender weight), so the placement is the same while kube-scheduler
	// decodes and merges one entry instead of one per node (GET /explain still
	// shows every node's score). Set it to compare or debug.
	ScoreAllNodes bool
	// Profiling serves Go's runtime profiles under /debug/pprof/ on the
	// health listener.
	Profiling bool
	// MaxBodyBytes caps a protocol request body.
	MaxBodyBytes int64
	// MaxBodyBytesInFlight caps the body bytes of all requests being read and
	// decoded at once (0: 2 × MaxBodyBytes); more wait (bodybudget.go).
	MaxBodyBytesInFlight int64
	// ExplainHistory is the number of recent decisions GET /explain keeps.
	ExplainHistory int
	// Clock is the time source (a fake one in tests).
	Clock clock.WithTicker
}

// Defaults.
const (
	DefaultListenAddr      = "127.0.0.1:8888"
	DefaultHealthAddr      = ":8889"
	DefaultPrivateAddr     = ":8890"
	DefaultMetricsInterval = 15 * time.Second
	DefaultShapeTolerance  = pool.DefaultShapeTolerance
	DefaultReservationTTL  = 60 * time.Second
	// DefaultMaxBodyBytes fits the NodeNames of far more than 5,000 nodes and
	// a full NodeList of a few hundred (when nodeCacheCapable is off).
	DefaultMaxBodyBytes   = 16 << 20
	DefaultExplainHistory = 32
)

// Default returns the default options.
func Default() Options {
	return Options{
		ListenAddr:      DefaultListenAddr,
		HealthAddr:      DefaultHealthAddr,
		PrivateAddr:     DefaultPrivateAddr,
		MetricsInterval: DefaultMetricsInterval,
		ShapeTolerance:  DefaultShapeTolerance,
		ReservationTTL:  DefaultReservationTTL,
		FilterToWinner:  true,
		MaxBodyBytes:    DefaultMaxBodyBytes,
		ExplainHistory:  DefaultExplainHistory,
		Clock:           clock.RealClock{},
	}
}

// BodyBytesInFlight is the effective MaxBodyBytesInFlight.
func (o Options) BodyBytesInFlight() int64 {
	if o.MaxBodyBytesInFlight == 0 {
		return 2 * o.MaxBodyBytes
	}
	return o.MaxBodyBytesInFlight
}

// MaxAge is the effective metrics max age.
func (o Options) MaxAge() time.Duration {
	if o.MetricsMaxAge == 0 {
		return 3 * o.MetricsInterval
	}
	return o.MetricsMaxAge
}

// Validate reports every invalid option.
func (o Options) Validate() error {
	var errs []error
	addrs := []struct{ name, addr string }{{"listen address", o.ListenAddr}, {"health address", o.HealthAddr}, {"private address", o.PrivateAddr}}
	for i, a := range addrs {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: must be host:port: %w", a.name, a.addr, err))
		}
		for _, b := range addrs[:i] {
			if a.addr != "" && a.addr == b.addr && !strings.HasSuffix(a.addr, ":0") {
				errs = append(errs, fmt.Errorf("%s and %s must differ (both %q)", b.name, a.name, a.addr))
			}
		}
	}
	if o.MetricsInterval < time.Second {
		errs = append(errs, fmt.Errorf("metrics interval %v: must be at least 1s", o.MetricsInterval))
	}
	if o.MetricsMaxAge != 0 && o.MetricsMaxAge < o.MetricsInterval {
		errs = append(errs, fmt.Errorf("metrics max age %v: must be 0 (3 × interval) or at least the interval %v", o.MetricsMaxAge, o.MetricsInterval))
	}
	if o.MetricsMaxAge < 0 {
		errs = append(errs, fmt.Errorf("metrics max age %v: must not be negative", o.MetricsMaxAge))
	}
	if !(o.ShapeTolerance >= 0 && o.ShapeTolerance < 1) { // also rejects NaN
		errs = append(errs, fmt.Errorf("shape tolerance %v: must be in [0, 1)", o.ShapeTolerance))
	}
	if !(o.HotThreshold >= 0 && o.HotThreshold <= 1) {
		errs = append(errs, fmt.Errorf("hot threshold %v: must be 0 (off) or in (0, 1]", o.HotThreshold))
	}
	if o.ReservationTTL < time.Second {
		errs = append(errs, fmt.Errorf("reservation TTL %v: must be at least 1s", o.ReservationTTL))
	}
	if o.MaxBodyBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("max body bytes %d: must be at least 1024", o.MaxBodyBytes))
	}
	if o.MaxBodyBytesInFlight != 0 && o.MaxBodyBytesInFlight < o.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("max body bytes in flight %d: must be 0 (2 × max body bytes) or at least max body bytes %d", o.MaxBodyBytesInFlight, o.MaxBodyBytes))
	}
	if o.ExplainHistory < 1 || o.ExplainHistory > 10000 {
		errs = append(errs, fmt.Errorf("explain history %d: must be between 1 and 10000", o.ExplainHistory))
	}
	if o.Clock == nil {
		errs = append(errs, errors.New("clock: must be set (Default sets the real clock)"))
	}
	return errors.Join(errs...)
}

// ValidateServing reports options Run cannot serve: Validate's findings and
// private endpoints that would be open beyond loopback. (New needs only
// Validate: it serves nothing.)
func (o Options) ValidateServing() error {
	return errors.Join(o.Validate(), o.Private.Validate(o.PrivateAddr))
}
