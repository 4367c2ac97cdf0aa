package main

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hdscale/hdscale/e2e/bench/internal/stats"
	"github.com/hdscale/hdscale/internal/kube"
	"github.com/hdscale/hdscale/internal/policy"
)

// Round is one measurement: one variant at one concurrency in one round.
type Round struct {
	Round       int     `json:"round"`
	Variant     string  `json:"variant"`
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"firstError,omitempty"`
	Unmutated   int     `json:"unexpectedResults"`
	Seconds     float64 `json:"seconds"`
	Throughput  float64 `json:"throughput"`
	// Latencies in milliseconds.
	P50  float64 `json:"p50Ms"`
	P90  float64 `json:"p90Ms"`
	P99  float64 `json:"p99Ms"`
	Mean float64 `json:"meanMs"`
	// APIServerCPU is kube-apiserver's process_cpu_seconds_total delta.
	APIServerCPU       float64 `json:"apiserverCpuSeconds"`
	APIServerCPUPerReq float64 `json:"apiserverCpuPerRequestSeconds"`
	// WebhookCPU sums the webhook pods' process_cpu_seconds_total deltas.
	WebhookCPU       float64 `json:"webhookCpuSeconds,omitempty"`
	WebhookCPUPerReq float64 `json:"webhookCpuPerRequestSeconds,omitempty"`
	// WebhookServerMeanMs is hdscale's own mean admission time (its
	// histogram's sum/count over the round).
	WebhookServerMeanMs float64 `json:"webhookServerMeanMs,omitempty"`
}

type measurer struct {
	client kubernetes.Interface
	// cfg authenticates the port-forwards to hdscale's private /metrics.
	cfg   *rest.Config
	setup *setup
	pod   *corev1.Pod
	opts  options
}

// measure warms up, then runs one measured window of variant v at
// concurrency c, bracketed by CPU readings (webhook pods outside,
// kube-apiserver inside, so the pod-proxy reads are not in the window).
func (m *measurer) measure(ctx context.Context, v string, c int) (Round, error) {
	r := Round{Variant: v, Concurrency: c}
	if _, err := m.load(ctx, v, c, m.opts.warmup); err != nil {
		return r, err
	}
	wh0, err := m.webhookReading(ctx, v)
	if err != nil {
		return r, err
	}
	cpu0, err := m.apiserverCPU(ctx)
	if err != nil {
		return r, err
	}
	res, err := m.load(ctx, v, c, m.opts.duration)
	if err != nil {
		return r, err
	}
	cpu1, err := m.apiserverCPU(ctx)
	if err != nil {
		return r, err
	}
	wh1, err := m.webhookReading(ctx, v)
	if err != nil {
		return r, err
	}
	lat := res.latencies
	sort.Float64s(lat)
	r.Requests, r.Errors, r.FirstError, r.Unmutated = len(lat), res.errors, res.firstErr, res.unexpected
	r.Seconds = res.elapsed.Seconds()
	r.Throughput = float64(len(lat)) / r.Seconds
	r.P50, r.P90, r.P99 = quantile(lat, 0.5), quantile(lat, 0.9), quantile(lat, 0.99)
	var sum float64
	for _, x := range lat {
		sum += x
	}
	if len(lat) > 0 {
		r.Mean = sum / float64(len(lat))
	}
	r.APIServerCPU = cpu1 - cpu0
	n := float64(len(lat) + res.errors)
	if n > 0 {
		r.APIServerCPUPerReq = r.APIServerCPU / n
	}
	if wh1.ok && wh0.ok {
		r.WebhookCPU = wh1.cpu - wh0.cpu
		if n > 0 {
			r.WebhookCPUPerReq = r.WebhookCPU / n
		}
		if d := wh1.count - wh0.count; d > 0 {
			r.WebhookServerMeanMs = 1e3 * (wh1.sum - wh0.sum) / d
		}
	}
	return r, nil
}

// quantile of sorted xs (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

type loadResult struct {
	latencies  []float64 // ms, successful requests
	errors     int
	unexpected int
	firstErr   string
	elapsed    time.Duration
}

// load runs c workers creating the pod (server-side dry run) back to back
// for d; the time counted ends with the last answer.
func (m *measurer) load(ctx context.Context, v string, c int, d time.Duration) (loadResult, error) {
	ns := variantNamespaces[v]
	pods := m.client.CoreV1().Pods(ns)
	var mu sync.Mutex
	var out loadResult
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pod := m.pod.DeepCopy()
			pod.Namespace = ns
			lat := make([]float64, 0, 4096)
			var errs, unexpected int
			var firstErr string
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				got, err := pods.Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
				el := time.Since(t0)
				if err != nil {
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
					continue
				}
				lat = append(lat, float64(el)/1e6)
				if !asExpected(v, got) {
					unexpected++
				}
			}
			mu.Lock()
			out.latencies = append(out.latencies, lat...)
			out.errors += errs
			out.unexpected += unexpected
			if out.firstErr == "" {
				out.firstErr = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	if ctx.Err() != nil {
		return out, ctx.Err()
	}
	return out, nil
}

// apiserverCPU reads process_cpu_seconds_total from kube-apiserver's
// /metrics (through the API, admin credentials).
func (m *measurer) apiserverCPU(ctx context.Context) (float64, error) {
	raw, err := m.client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return 0, fmt.Errorf("kube-apiserver /metrics: %w", err)
	}
	v, ok, err := sumMetric(raw, "process_cpu_seconds_total", nil)
	if err != nil {
		return 0, fmt.Errorf("kube-apiserver /metrics: %w", err)
	}
	if !ok {
		return 0, fmt.Errorf("kube-apiserver /metrics has no process_cpu_seconds_total")
	}
	return v, nil
}

type webhookReading struct {
	ok              bool
	cpu, sum, count float64
}

// webhookReading sums the CPU of the variant's webhook pods (and hdscale's
// admission-duration histogram sum and count): hdscale's private /metrics
// through an authenticated port-forward, the no-op's through the pod proxy.
func (m *measurer) webhookReading(ctx context.Context, v string) (webhookReading, error) {
	var ns, selector, scheme, port string
	switch v {
	case "hdscale":
		d := m.setup.hdscaleDep
		if d == nil {
			return webhookReading{}, nil
		}
		ns, selector, scheme, port = d.Namespace, metav1.FormatLabelSelector(d.Spec.Selector), "private", "8444"
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == "metrics" {
					port = strconv.Itoa(int(p.ContainerPort))
				}
			}
		}
	default:
		if e, ok := engineOf(v); ok {
			ns, selector, scheme, port = e.namespace, e.selector, "http", e.metricsPort
			break
		}
		n, ok := noopServerOf(v)
		if !ok {
			return webhookReading{}, nil
		}
		ns, selector, scheme, port = noopSystemNS, "app.kubernetes.io/name="+n.name, "https", "8443"
	}
	pods, err := m.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return webhookReading{}, err
	}
	r := webhookReading{ok: true}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		var raw []byte
		if scheme == "private" {
			raw, err = m.privateMetrics(ctx, ns, p.Name, port)
		} else {
			raw, err = m.client.CoreV1().Pods(ns).ProxyGet(scheme, p.Name, port, "/metrics", nil).DoRaw(ctx)
		}
		if err != nil {
			return r, fmt.Errorf("%s/%s /metrics: %w", ns, p.Name, err)
		}
		s, err := stats.ParseText(bytes.NewReader(raw))
		if err != nil {
			return r, fmt.Errorf("%s/%s /metrics: %w", ns, p.Name, err)
		}
		mutate := map[string]string{"webhook": "/mutate"}
		cpu, _ := s.Sum("process_cpu_seconds_total", nil)
		sum, _ := s.Sum("hdscale_webhook_admission_duration_seconds_sum", mutate)
		count, _ := s.Sum("hdscale_webhook_admission_duration_seconds_count", mutate)
		r.cpu += cpu
		r.sum += sum
		r.count += count
	}
	return r, nil
}

// sumMetric adds every series of name in the exposition text whose labels
// include match; ok is false when text has no series of that name.
func sumMetric(text []byte, name string, match map[string]string) (float64, bool, error) {
	s, err := stats.ParseText(bytes.NewReader(text))
	if err != nil {
		return 0, false, err
	}
	v, ok := s.Sum(name, match)
	return v, ok, nil
}

// checkEffects dry-run creates the pod in each variant's namespace until
// the variant acts as expected (policies and webhook configurations take a
// moment to reach the API server's admission chain), and returns what each
// did to the pod. hdscale's answer goes first: each policy engine's must
// then carry the same fields (mutationDiff), or the run fails - so an
// engine that silently mutates less is never measured.
func (s *setup) checkEffects(ctx context.Context, pod *corev1.Pod) ([]Effect, error) {
	var out []Effect
	var ref *corev1.Pod
	order := s.opts.variants
	if has(order, "hdscale") {
		order = append([]string{"hdscale"}, without(order, "hdscale")...)
	}
	for _, v := range order {
		p := pod.DeepCopy()
		p.Namespace = variantNamespaces[v]
		var last Effect
		var lastErr error
		var diff []string
		_, isEngine := engineOf(v)
		err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			res := s.client.CoreV1().RESTClient().Post().Namespace(p.Namespace).Resource("pods").
				Param("dryRun", metav1.DryRunAll).Body(p).Do(ctx)
			var got corev1.Pod
			if lastErr = res.Into(&got); lastErr != nil {
				return false, nil
			}
			var warnings int
			for _, w := range res.Warnings() {
				if strings.Contains(w.Text, "hdscale") {
					warnings++
				}
			}
			last = effectOf(v, &got, warnings)
			if v == "hdscale" {
				ref = got.DeepCopy()
			}
			diff = nil
			if isEngine && ref != nil {
				diff = mutationDiff(ref, &got)
				last.SameAsHdscale = yes(len(diff) == 0)
			}
			return asExpected(v, &got) && len(diff) == 0, nil
		})
		if err != nil {
			if lastErr != nil {
				return nil, fmt.Errorf("variant %s: dry-run create keeps failing: %w", v, lastErr)
			}
			if len(diff) > 0 {
				return nil, fmt.Errorf("variant %s does not write what hdscale's webhook writes: %s", v, strings.Join(diff, "; "))
			}
			return nil, fmt.Errorf("variant %s does not act as expected (got %+v): %w", v, last, err)
		}
		out = append(out, last)
	}
	// Report in the order of -variants.
	sorted := make([]Effect, 0, len(out))
	for _, v := range s.opts.variants {
		for _, e := range out {
			if e.Variant == v {
				sorted = append(sorted, e)
			}
		}
	}
	return sorted, nil
}

func without(xs []string, x string) []string {
	var out []string
	for _, v := range xs {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

// benchNamespaceLabels are the labels of the hdscale variant's namespace.
var benchNamespaceLabels = map[string]string{policy.LabelPattern: "per-core"}

// privateMetrics reads /metrics of an hdscale pod through a port-forward
// authenticated as the kubeconfig's user.
func (m *measurer) privateMetrics(ctx context.Context, ns, name, port string) ([]byte, error) {
	n, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", port, err)
	}
	t, err := kube.OpenTunnel(ctx, m.cfg, ns, name, n)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	return t.Get(ctx, "/metrics")
}
