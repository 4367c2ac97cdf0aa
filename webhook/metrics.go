package webhook

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook's Prometheus metrics. Create them with NewMetrics.
type Metrics struct {
	admissions    *prometheus.CounterVec
	nsValidations *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	deployments   *prometheus.CounterVec
	errors        *prometheus.CounterVec
	panics        prometheus.Counter
	warnings      prometheus.Counter
	poolOutliers  *prometheus.GaugeVec
	poolNodes     *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		admissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hdscale_webhook_admissions_total",
			Help: "Pod admissions by result (mutated, unchanged, skipped, denied, errored) and the namespace's pattern and mode (none when not opted in).",
		}, []string{"result", "pattern", "mode"}),
		nsValidations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hdscale_webhook_namespace_validations_total",
			Help: "Namespace validations by result (allowed, denied, skipped, errored).",
		}, []string{"result"}),
		deployments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hdscale_webhook_deployment_admissions_total",
			Help: "Deployment admissions (rollout strategy of runtime Deployments) by result, pattern and mode.",
		}, []string{"result", "pattern", "mode"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hdscale_webhook_admission_duration_seconds",
			Help:    "Time to answer one AdmissionReview, from reading the body to writing the response, by webhook path.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
		}, []string{"webhook"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hdscale_webhook_errors_total",
			Help: "Bad requests and failures by reason (content_type, too_large, bad_body, bad_review, wrong_kind, no_object, bad_object, no_containers, not_ready, unknown_namespace, bad_namespace_labels, internal).",
		}, []string{"reason"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hdscale_webhook_panics_total",
			Help: "Requests whose handler panicked (answered 500, process kept running).",
		}),
		warnings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hdscale_webhook_warnings_total",
			Help: "Admission warnings sent to clients.",
		}),
		poolOutliers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hdscale_webhook_pool_outlier_nodes",
			Help: "Usable pool nodes whose shape differs from the pool's reference shape: they get no runtime replicas (split them into a pool of their own).",
		}, []string{"pool"}),
		poolNodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hdscale_webhook_pool_nodes",
			Help: "Pool members (usable nodes of the reference shape) that runtime pods are sized for and placed on.",
		}, []string{"pool"}),
	}
	for _, r := range errorReasons {
		m.errors.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.admissions, m.nsValidations, m.deployments, m.latency, m.errors, m.panics, m.warnings, m.poolOutliers, m.poolNodes} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("registering webhook metrics: %w", err)
	}
	return m, nil
}

// Panics is the counter serving.Recover increments.
func (m *Metrics) Panics() prometheus.Counter { return m.panics }

// observe records one answered review of the webhook at path.
func (m *Metrics) observe(path string, o Outcome, seconds float64, warnings int) {
	switch path {
	case PathValidateNamespace:
		m.nsValidations.WithLabelValues(o.Result).Inc()
	case PathMutateDeployment:
		m.deployments.WithLabelValues(o.Result, o.Pattern, o.Mode).Inc()
	default:
		m.admissions.WithLabelValues(o.Result, o.Pattern, o.Mode).Inc()
	}
	m.latency.WithLabelValues(path).Observe(seconds)
	if o.Reason != "" {
		m.errors.WithLabelValues(o.Reason).Inc()
	}
	if warnings > 0 {
		m.warnings.Add(float64(warnings))
	}
}

// httpError records a request rejected before it reached a decision.
func (m *Metrics) httpError(reason string) { m.errors.WithLabelValues(reason).Inc() }
