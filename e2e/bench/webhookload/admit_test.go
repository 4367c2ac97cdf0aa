package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/hdscale/hdscale/e2e/bench/internal/stats"
	"github.com/hdscale/hdscale/e2e/bench/webhookload/benchpod"
	"k8s.io/utils/clock"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
	"github.com/hdscale/hdscale/webhook"
)

// benchCase is the pod every benchmark admits (the isolation run's default).
var benchCase = filepath.Join("..", "..", "..", "webhook", "testdata", "cases", "helm-runtime-deployment.yaml")

// benchNamespace labels, like the harness's default fake namespace.
var benchLabels = map[string]string{policy.LabelPattern: "per-core"}

func benchBody(tb testing.TB) Body {
	tb.Helper()
	pod, err := benchpod.ReadCasePod(benchCase, "hetida")
	if err != nil {
		tb.Fatal(err)
	}
	pod, err = benchpod.ServerSidePod(pod, "kube-controller-manager", time.Unix(1_800_000_000, 0))
	if err != nil {
		tb.Fatal(err)
	}
	b, err := NewBody(pod, false)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func benchMutator() *webhook.Mutator {
	return &webhook.Mutator{
		Matcher:       webhook.NewMatcher(webhook.DefaultConfig()),
		Namespaces:    webhook.StaticNamespaces{"hetida": benchLabels},
		Pools:         webhook.StaticPools{policy.DefaultPool: pool.Uniform(policy.DefaultPool, 3, pool.Shape{CPUMilli: 4000, MemBytes: 16 << 30}, 250)},
		SchedulerName: webhook.DefaultSchedulerName,
	}
}

func benchHandler(tb testing.TB) *webhook.Handler {
	tb.Helper()
	met, err := webhook.NewMetrics(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &webhook.Handler{Path: webhook.PathMutate, Admit: benchMutator().Admit, Metrics: met, Log: logr.Discard(),
		MaxBytes: webhook.DefaultMaxRequestBytes, Clock: clock.RealClock{}}
}

// discardWriter is a ResponseWriter that keeps nothing (so the benchmark
// counts the handler's allocations, not a recorder's).
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// BenchmarkAdmit measures one admission of the bench pod (a runtime pod in a
// per-core namespace, mutated): "mutator" is the decision alone
// (Mutator.Admit on a decoded request: decode pod, plan, JSON patch);
// "handler" is the HTTP handler without TLS and sockets (read body, decode
// review, admit, encode answer, metrics).
//
//	go test -run '^$' -bench BenchmarkAdmit -benchmem ./e2e/bench/webhookload/
func BenchmarkAdmit(b *testing.B) {
	body := benchBody(b)
	raw, _ := body.With(nil, 1)
	b.Run("mutator", func(b *testing.B) {
		var rv admissionv1.AdmissionReview
		if err := json.Unmarshal(raw, &rv); err != nil {
			b.Fatal(err)
		}
		m := benchMutator()
		b.ReportAllocs()
		b.SetBytes(int64(len(rv.Request.Object.Raw)))
		for b.Loop() {
			resp, out := m.Admit(rv.Request)
			if out.Result != webhook.ResultMutated || len(resp.Patch) == 0 {
				b.Fatalf("result %s", out.Result)
			}
		}
	})
	b.Run("handler", func(b *testing.B) {
		h := benchHandler(b)
		w := &discardWriter{h: http.Header{}}
		req := httptest.NewRequest(http.MethodPost, webhook.PathMutate, nil)
		req.Header.Set("Content-Type", "application/json")
		rd := bytes.NewReader(raw)
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			rd.Reset(raw)
			req.Body = http.NoBody
			req.Body = readCloser{rd}
			req.ContentLength = int64(len(raw))
			w.code, w.n = 0, 0
			h.ServeHTTP(w, req)
			if w.code != 0 && w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		}
	})
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// The bench body is the pod as the API server hands it over, and hdscale
// mutates it (the isolation benchmark measures the mutating path).
func TestBenchBodyIsMutated(t *testing.T) {
	t.Parallel()
	body := benchBody(t)
	raw, uid := body.With(nil, 42)
	if uid != "00000000-0000-4000-8000-00000000002a" {
		t.Errorf("uid %s", uid)
	}
	var rv admissionv1.AdmissionReview
	if err := json.Unmarshal(raw, &rv); err != nil {
		t.Fatal(err)
	}
	if string(rv.Request.UID) != uid || rv.Request.Namespace != "hetida" || rv.Request.Operation != admissionv1.Create {
		t.Fatalf("request %+v", rv.Request)
	}
	var pod struct {
		Metadata struct {
			ManagedFields []json.RawMessage `json:"managedFields"`
		} `json:"metadata"`
		Spec struct {
			SchedulerName string `json:"schedulerName"`
			Volumes       []struct {
				Name string `json:"name"`
			} `json:"volumes"`
			Tolerations []json.RawMessage `json:"tolerations"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(rv.Request.Object.Raw, &pod); err != nil {
		t.Fatal(err)
	}
	if len(pod.Metadata.ManagedFields) != 1 || pod.Spec.SchedulerName != "default-scheduler" || len(pod.Spec.Volumes) != 2 || len(pod.Spec.Tolerations) != 3 {
		t.Errorf("not the server-side pod: %s", rv.Request.Object.Raw)
	}
	resp, out := benchMutator().Admit(rv.Request)
	if !resp.Allowed || out.Result != webhook.ResultMutated || len(resp.Patch) == 0 {
		t.Fatalf("allowed=%v result=%s patch=%s", resp.Allowed, out.Result, resp.Patch)
	}
	h := benchHandler(t)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, webhook.PathMutate, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(uid)) || !bytes.Contains(rec.Body.Bytes(), []byte(`"allowed":true`)) {
		t.Errorf("handler answered %d %s", rec.Code, rec.Body)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	var h Histogram
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond) // 1 µs .. 10 ms, uniform
	}
	s := h.Snapshot()
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.99, 9900 * time.Microsecond}, {0.999, 9990 * time.Microsecond}, {1, 10 * time.Millisecond}} {
		got := s.Quantile(tc.q)
		if rel := float64(got-tc.want) / float64(tc.want); rel > 0.01 || rel < -0.01 {
			t.Errorf("q%.3f = %v, want %v ±1%%", tc.q, got, tc.want)
		}
	}
	if s.Total != 10000 || s.Mean() < 5000*time.Microsecond || s.Mean() > 5001*time.Microsecond {
		t.Errorf("total %d mean %v", s.Total, s.Mean())
	}
	var before Snapshot
	before.Merge(s)
	h.Record(20 * time.Millisecond)
	d := h.Snapshot().Sub(before)
	if d.Total != 1 || d.Quantile(0.5) < 19*time.Millisecond || d.Quantile(0.5) > 21*time.Millisecond {
		t.Errorf("delta %+v q50 %v", d, d.Quantile(0.5))
	}
}

func TestBucketsAreContiguous(t *testing.T) {
	t.Parallel()
	prevHi := uint64(0)
	for i := 0; i < histExp*histSub; i++ {
		lo, hi := bucketBounds(i)
		if lo != prevHi || hi <= lo {
			t.Fatalf("bucket %d = [%d,%d), previous ended at %d", i, lo, hi, prevHi)
		}
		for _, v := range []uint64{lo, hi - 1} {
			if got := bucketOf(v); got != i {
				t.Fatalf("bucketOf(%d) = %d, want %d", v, got, i)
			}
		}
		prevHi = hi
	}
}

func TestPromText(t *testing.T) {
	t.Parallel()
	text := `# HELP x
hdscale_webhook_admission_duration_seconds_bucket{webhook="/mutate",le="0.0005"} 2
hdscale_webhook_admission_duration_seconds_bucket{webhook="/mutate",le="0.001"} 8
hdscale_webhook_admission_duration_seconds_bucket{webhook="/mutate",le="+Inf"} 10
hdscale_webhook_admission_duration_seconds_sum{webhook="/mutate"} 0.01
hdscale_webhook_admission_duration_seconds_count{webhook="/mutate"} 10
hdscale_webhook_admission_duration_seconds_bucket{webhook="/validate-namespace",le="+Inf"} 99
process_cpu_seconds_total 1.5
`
	s, err := stats.ParseText(bytes.NewBufferString(text))
	if err != nil {
		t.Fatal(err)
	}
	h := promHistogram(s, "hdscale_webhook_admission_duration_seconds", map[string]string{"webhook": "/mutate"})
	if cpu, _ := s.Sum("process_cpu_seconds_total", nil); h.Count != 10 || h.FractionAtMost(0.001) != 0.8 || cpu != 1.5 {
		t.Errorf("histogram %+v", h)
	}
	if q := h.Quantile(0.5); q < 0.0005 || q > 0.001 {
		t.Errorf("q50 %v", q)
	}
	if _, err := json.Marshal(h); err != nil {
		t.Error(err)
	}
}
