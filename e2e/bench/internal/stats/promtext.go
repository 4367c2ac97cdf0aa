package stats

import (
	"fmt"
	"io"
	"math"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sample is one series of a Prometheus text exposition: its labels and value.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Samples are the series of an exposition by the name the text format
// writes them under: a histogram family h gives h_bucket (with "le"), h_sum
// and h_count; a summary s gives s (with "quantile"), s_sum and s_count.
type Samples map[string][]Sample

// ParseText reads the Prometheus text exposition format with the Prometheus
// project's own parser (github.com/prometheus/common/expfmt).
func ParseText(r io.Reader) (Samples, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parsing the Prometheus text format: %w", err)
	}
	out := Samples{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			labels := make(map[string]string, len(m.GetLabel())+1)
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			out.add(name, f.GetType(), m, labels)
		}
	}
	return out, nil
}

func (s Samples) add(name string, t dto.MetricType, m *dto.Metric, labels map[string]string) {
	with := func(k, v string) map[string]string {
		l := make(map[string]string, len(labels)+1)
		for lk, lv := range labels {
			l[lk] = lv
		}
		l[k] = v
		return l
	}
	switch t {
	case dto.MetricType_COUNTER:
		s[name] = append(s[name], Sample{labels, m.GetCounter().GetValue()})
	case dto.MetricType_GAUGE:
		s[name] = append(s[name], Sample{labels, m.GetGauge().GetValue()})
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		h := m.GetHistogram()
		for _, b := range h.GetBucket() {
			le := strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)
			s[name+"_bucket"] = append(s[name+"_bucket"], Sample{with("le", le), float64(b.GetCumulativeCount())})
		}
		if !hasInf(h.GetBucket()) {
			s[name+"_bucket"] = append(s[name+"_bucket"], Sample{with("le", "+Inf"), float64(h.GetSampleCount())})
		}
		s[name+"_sum"] = append(s[name+"_sum"], Sample{labels, h.GetSampleSum()})
		s[name+"_count"] = append(s[name+"_count"], Sample{labels, float64(h.GetSampleCount())})
	case dto.MetricType_SUMMARY:
		sm := m.GetSummary()
		for _, q := range sm.GetQuantile() {
			s[name] = append(s[name], Sample{with("quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64)), q.GetValue()})
		}
		s[name+"_sum"] = append(s[name+"_sum"], Sample{labels, sm.GetSampleSum()})
		s[name+"_count"] = append(s[name+"_count"], Sample{labels, float64(sm.GetSampleCount())})
	default: // untyped
		s[name] = append(s[name], Sample{labels, m.GetUntyped().GetValue()})
	}
}

func hasInf(bs []*dto.Bucket) bool {
	return len(bs) > 0 && math.IsInf(bs[len(bs)-1].GetUpperBound(), 1)
}

// Sum adds the values of every series of name whose labels include match.
// ok is false when the exposition has no series of that name.
func (s Samples) Sum(name string, match map[string]string) (sum float64, ok bool) {
	for _, x := range s[name] {
		if Matches(x.Labels, match) {
			sum += x.Value
		}
	}
	return sum, len(s[name]) > 0
}

// Matches reports whether labels include every pair of match.
func Matches(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}
