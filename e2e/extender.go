//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The extender's debugging endpoint and metrics (private port 8890).
const (
	extenderExplainPath = "/explain"
	extenderMetricsPath = "/metrics"
	// Prometheus series of extender/metrics.go the suite reads.
	metricStaleNodes   = "hdscale_extender_stale_nodes"
	metricSampleAgeObs = "hdscale_extender_metric_age_seconds_count"
	// A stable part of the extender's filter reason for a node that already
	// runs a per-node replica of the namespace (extender/assess.go, rCap).
	extenderCapReason = "already holds the per-node cap"
)

// explainResponse is the part of GET /explain (extender/explain.go) the
// suite reads.
type explainResponse struct {
	Decisions []explainDecision `json:"decisions"`
}

type explainDecision struct {
	Time         time.Time     `json:"time"`
	Verb         string        `json:"verb"`
	Pod          string        `json:"pod"`
	Result       string        `json:"result"`
	Message      string        `json:"message"`
	Chosen       string        `json:"chosen"`
	MetricsError string        `json:"metricsError"`
	Nodes        []explainNode `json:"nodes"`
}

type explainNode struct {
	Node        string  `json:"node"`
	Verdict     string  `json:"verdict"`
	Reason      string  `json:"reason"`
	Score       *int64  `json:"score"`
	Data        string  `json:"data"`
	UtilPercent float64 `json:"utilPercent"`
	UsageMilli  int64   `json:"usageMilli"`
	LoadMilli   int64   `json:"loadMilli"`
	Replicas    int32   `json:"replicas"`
	Cap         int32   `json:"cap"`
}

func (n explainNode) String() string {
	s := fmt.Sprintf("%s %s", n.Node, n.Verdict)
	if n.Reason != "" {
		s += " (" + n.Reason + ")"
	}
	if n.Score != nil {
		s += fmt.Sprintf(" score=%d", *n.Score)
	}
	return s + fmt.Sprintf(" data=%s util=%.1f%% usage=%dm load=%dm replicas=%d/%d", n.Data, n.UtilPercent, n.UsageMilli, n.LoadMilli, n.Replicas, n.Cap)
}

// extenderDecisions asks every scheduler pod's extender for its recent
// decisions about pod ns/name (newest first per extender).
func extenderDecisions(ctx context.Context, ns, name string) ([]explainDecision, error) {
	pods, err := schedulerPods(ctx)
	if err != nil {
		return nil, err
	}
	var out []explainDecision
	for _, sp := range pods {
		b, err := privateGet(ctx, sp.Namespace, sp.Name, extenderPrivatePort, extenderExplainPath,
			map[string]string{"pod": ns + "/" + name, "nodes": "-1", "limit": "5"})
		if err != nil {
			return nil, err
		}
		var r explainResponse
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("decoding %s of %s: %w", extenderExplainPath, sp.Name, err)
		}
		out = append(out, r.Decisions...)
	}
	return out, nil
}

// extenderExplain renders the extender's decisions about pod for dumps.
func extenderExplain(ctx context.Context, pod *corev1.Pod) string {
	ds, err := extenderDecisions(ctx, pod.Namespace, pod.Name)
	if err != nil {
		return err.Error()
	}
	if len(ds) == 0 {
		return "no recent decisions"
	}
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "\n  %s %s result=%s chosen=%q %s", d.Time.Format("15:04:05.000"), d.Verb, d.Result, d.Chosen, d.Message)
		if d.MetricsError != "" {
			fmt.Fprintf(&b, " metricsError=%q", d.MetricsError)
		}
		for _, n := range d.Nodes {
			fmt.Fprintf(&b, "\n    %s", n)
		}
	}
	return b.String()
}

// extenderMetrics scrapes /metrics of every scheduler pod's extender: pod
// name → series (name with labels as printed) → value.
func extenderMetrics(ctx context.Context) (map[string]map[string]float64, error) {
	pods, err := schedulerPods(ctx)
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("no running scheduler pods")
	}
	out := map[string]map[string]float64{}
	for _, sp := range pods {
		b, err := privateGet(ctx, sp.Namespace, sp.Name, extenderPrivatePort, extenderMetricsPath, nil)
		if err != nil {
			return nil, err
		}
		out[sp.Name] = parsePrometheusText(string(b))
	}
	return out, nil
}

// parsePrometheusText reads the sample lines of the Prometheus text format.
func parsePrometheusText(text string) map[string]float64 {
	m := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m
}

// waitExtenderSeesHot waits until every extender polled metrics.k8s.io at
// least once more after NodeMetrics showed the hot node (it polls on its own
// schedule, every 15 s by default): a full poll adds one observation per node
// to hdscale_extender_metric_age_seconds.
func waitExtenderSeesHot(t *testing.T, hot string, names []string) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	before, err := extenderMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "every extender to poll node metrics again after "+hot+" got busy", func(ctx context.Context) (bool, string, error) {
		now, err := extenderMetrics(ctx)
		if err != nil {
			return false, "", err
		}
		ok := true
		var seen []string
		for pod, m := range now {
			b, had := before[pod]
			if !had {
				continue // a new scheduler pod polled after the load started
			}
			if m[metricSampleAgeObs] < b[metricSampleAgeObs]+float64(len(names)) {
				ok = false
			}
			seen = append(seen, fmt.Sprintf("%s: %s %v -> %v", pod, metricSampleAgeObs, b[metricSampleAgeObs], m[metricSampleAgeObs]))
		}
		return ok, strings.Join(seen, "; "), nil
	})
}

// waitExtenderMetricsUnavailable waits until every extender scores all pool
// nodes by the requests-based fallback (hdscale_extender_stale_nodes equals
// the pool size): their metrics samples are missing or too old.
func waitExtenderMetricsUnavailable(t *testing.T, poolSize int) {
	t.Helper()
	waitFor(t, 3*time.Minute, fmt.Sprintf("every extender to report %s = %d", metricStaleNodes, poolSize), func(ctx context.Context) (bool, string, error) {
		all, err := extenderMetrics(ctx)
		if err != nil {
			return false, "", err
		}
		ok := true
		var seen []string
		for pod, m := range all {
			v, has := m[metricStaleNodes]
			if !has || int(v) < poolSize {
				ok = false
			}
			seen = append(seen, fmt.Sprintf("%s: %s=%v", pod, metricStaleNodes, v))
		}
		return ok, strings.Join(seen, "; "), nil
	})
}

// waitNoReservations waits until no extender holds a predicted placement
// (GET /explain "reservations"): placements of earlier tests must not weigh
// on the next one's scores. Reservations end when their pod is seen bound or
// deleted, or after the extender's reservation TTL (60 s by default).
func waitNoReservations(t *testing.T) {
	t.Helper()
	waitFor(t, 2*time.Minute, "no outstanding extender reservations", func(ctx context.Context) (bool, string, error) {
		pods, err := schedulerPods(ctx)
		if err != nil {
			return false, "", err
		}
		var seen []string
		for _, sp := range pods {
			b, err := privateGet(ctx, sp.Namespace, sp.Name, extenderPrivatePort, extenderExplainPath, map[string]string{"limit": "1", "nodes": "0"})
			if err != nil {
				return false, "", err
			}
			var r struct {
				Reservations []struct {
					Namespace, Name, Node string
					Expires               time.Time
				} `json:"reservations"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				return false, "", err
			}
			for _, res := range r.Reservations {
				seen = append(seen, fmt.Sprintf("%s: %s/%s on %s until %s", sp.Name, res.Namespace, res.Name, res.Node, res.Expires.Format("15:04:05")))
			}
		}
		return len(seen) == 0, fmt.Sprintf("reservations: %v", seen), nil
	})
}
