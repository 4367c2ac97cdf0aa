package certs

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric label values.
const (
	kindCA      = "ca"
	kindServing = "serving"

	opSecret   = "secret"   // reading or writing the Secret
	opCorrupt  = "corrupt"  // the owned Secret held unusable material and was regenerated
	opCABundle = "cabundle" // reading or patching a webhook configuration
	opLoad     = "load"     // loading the serving certificate from the Secret
	opWatch    = "watch"    // list/watch errors of the informers
)

type metrics struct {
	notAfter  *prometheus.GaugeVec
	rotations *prometheus.CounterVec
	repairs   *prometheus.CounterVec
	updates   *prometheus.CounterVec
	errors    *prometheus.CounterVec
	phase     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		notAfter: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hdscale_certs_certificate_not_after_seconds",
			Help: "NotAfter (Unix seconds) of the CA currently signing (kind=ca) and of the serving certificate this replica serves (kind=serving).",
		}, []string{"kind"}),
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hdscale_certs_rotations_total",
			Help: "Certificates this replica issued to replace existing ones, by kind (ca: a new CA entered rotation or was regenerated; serving: a new serving certificate).",
		}, []string{"kind"}),
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hdscale_certs_cabundle_repairs_total",
			Help: "Patches of a webhook configuration whose caBundle did not trust the serving certificate (emptied by a re-applied manifest, missing, or wrong).",
		}, []string{"type", "name"}),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hdscale_certs_cabundle_updates_total",
			Help: "All caBundle patches of a webhook configuration (repairs and rotation updates).",
		}, []string{"type", "name"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hdscale_certs_errors_total",
			Help: "Errors by operation (secret, corrupt, cabundle, load, watch).",
		}, []string{"operation"}),
		phase: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hdscale_certs_ca_rotation_phase",
			Help: "CA rotation phase seen by this replica: 0 stable, 1 new CA added to the bundle, 2 serving from the new CA.",
		}),
	}
	for _, k := range []string{kindCA, kindServing} {
		m.rotations.WithLabelValues(k)
	}
	for _, op := range []string{opSecret, opCorrupt, opCABundle, opLoad, opWatch} {
		m.errors.WithLabelValues(op)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.notAfter, m.rotations, m.repairs, m.updates, m.errors, m.phase} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("register certs metrics (one Manager per registry): %w", err)
			}
			return nil, fmt.Errorf("register certs metrics: %w", err)
		}
	}
	return m, nil
}

func phaseValue(p Phase) float64 {
	switch p {
	case PhaseCAAdded:
		return 1
	case PhaseCASwitched:
		return 2
	default:
		return 0
	}
}
