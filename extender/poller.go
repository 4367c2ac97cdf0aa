package extender

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
)

// MetricsSource lists the current NodeMetrics samples.
type MetricsSource interface {
	NodeMetrics(ctx context.Context) ([]NodeSample, error)
}

// ClientMetricsSource reads NodeMetrics from metrics.k8s.io/v1beta1.
func ClientMetricsSource(c metricsclient.Interface) MetricsSource { return clientSource{c} }

type clientSource struct{ c metricsclient.Interface }

func (s clientSource) NodeMetrics(ctx context.Context) ([]NodeSample, error) {
	list, err := s.c.MetricsV1beta1().NodeMetricses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing metrics.k8s.io NodeMetrics: %w", err)
	}
	out := make([]NodeSample, 0, len(list.Items))
	for i := range list.Items {
		m := &list.Items[i]
		if m.Timestamp.IsZero() {
			continue
		}
		s := NodeSample{Node: m.Name, Sample: Sample{Timestamp: m.Timestamp.Time, Window: m.Window.Duration}}
		if q, ok := m.Usage[v1.ResourceCPU]; ok {
			s.UsageMilli = clampMilli(q.MilliValue())
		}
		out = append(out, s)
	}
	return out, nil
}

// pollOnce reads the samples once and records them (or the error: the
// previous samples stay and turn stale, so filter and score fall back).
func (e *Extender) pollOnce(ctx context.Context, src MetricsSource) error {
	ctx, cancel := context.WithTimeout(ctx, e.opts.MetricsInterval)
	defer cancel()
	samples, err := src.NodeMetrics(ctx)
	now := e.clock.Now()
	if err != nil {
		e.m.errors.WithLabelValues(errMetricsPoll).Inc()
		// Log the first failure loudly and repeats at V(1): metrics-server
		// being down is a state, not a stream of news.
		if !e.pollFailing.Swap(true) {
			e.log.Error(err, "polling node metrics failed; nodes fall back to requests-based utilisation once their samples are stale",
				"maxAge", e.opts.MaxAge())
		} else {
			e.log.V(1).Info("polling node metrics still fails", "error", err.Error())
		}
		e.store.update(func(b *Builder) bool { b.SetPollResult(now, err); return true })
		return err
	}
	if e.pollFailing.Swap(false) {
		e.log.Info("polling node metrics works again", "nodes", len(samples))
	}
	for i := range samples {
		e.m.metricAge.Observe(now.Sub(samples[i].Timestamp).Seconds())
	}
	e.store.update(func(b *Builder) bool {
		b.SetSamples(samples)
		b.SetPollResult(now, nil)
		return true
	})
	return nil
}

// runPoller polls now and then every MetricsInterval until ctx ends.
func (e *Extender) runPoller(ctx context.Context, src MetricsSource) {
	t := e.clock.NewTicker(e.opts.MetricsInterval)
	defer t.Stop()
	for {
		_ = e.pollOnce(ctx, src)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}
