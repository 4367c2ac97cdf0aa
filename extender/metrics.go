package extender

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Error reasons counted by hdscale_extender_errors_total.
const (
	errDecode       = "decode"
	errEncode       = "encode"
	errBodyTooLarge = "body_too_large"
	errMethod       = "method"
	errContentType  = "content_type"
	errNoPod        = "no_pod"
	errUnknownNode  = "unknown_node"
	errMetricsPoll  = "metrics_poll"
	errInvalidPod   = "invalid_pod"
	errBusy         = "busy"
)

// metrics are the extender's Prometheus metrics.
type metrics struct {
	decisions  *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	metricAge  prometheus.Histogram
	errors     *prometheus.CounterVec
	panics     prometheus.Counter
	phantoms   prometheus.Counter
	buildTime  prometheus.Histogram
	staleNodes prometheus.GaugeFunc
	resGauge   prometheus.GaugeFunc
	bodyBytes  prometheus.GaugeFunc
}

// newMetrics creates and registers the metrics on reg. stale, reservations
// and bodyBytes are evaluated at scrape time.
func newMetrics(reg prometheus.Registerer, stale, reservations, bodyBytes func() float64) (*metrics, error) {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hdscale_extender_decisions_total",
			Help: "Extender decisions by verb (filter, prioritize) and result (placed, passed, none, passthrough, invalid, empty, error).",
		}, []string{"verb", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hdscale_extender_request_duration_seconds",
			Help:    "Time to serve one extender request, decode to encode, by verb.",
			Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1},
		}, []string{"verb"}),
		metricAge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hdscale_extender_metric_age_seconds",
			Help:    "Age of each node's NodeMetrics sample when it was polled.",
			Buckets: []float64{5, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600},
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hdscale_extender_errors_total",
			Help: "Errors by reason (decode, encode, body_too_large, method, content_type, no_pod, unknown_node, invalid_pod, metrics_poll, busy).",
		}, []string{"reason"}),
		phantoms: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hdscale_extender_phantom_pods_total",
			Help: "Pods the informer cache still counted on a node at its per-node cap although the API server had them deleted, terminal or elsewhere (a watch that missed events); each was forgotten when it blocked a placement.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hdscale_extender_panics_total",
			Help: "Panics recovered while serving a request.",
		}),
		buildTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hdscale_extender_snapshot_build_seconds",
			Help:    "Time to build one snapshot of node facts.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 3, 10),
		}),
		staleNodes: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hdscale_extender_stale_nodes",
			Help: "Pool nodes without a fresh metrics sample (scored by the requests-based fallback).",
		}, stale),
		resGauge: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hdscale_extender_reservations",
			Help: "Unexpired reservations (predicted placements not yet seen bound).",
		}, reservations),
		bodyBytes: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hdscale_extender_body_bytes_in_flight",
			Help: "Request body bytes reserved by requests being read and decoded (bounded by the body budget; more requests wait).",
		}, bodyBytes),
	}
	for _, c := range []prometheus.Collector{m.decisions, m.latency, m.metricAge, m.errors, m.panics, m.phantoms, m.buildTime, m.staleNodes, m.resGauge, m.bodyBytes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
