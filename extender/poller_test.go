package extender

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsfake "k8s.io/metrics/pkg/client/clientset/versioned/fake"
)

// fakeSource returns fixed samples or an error.
type fakeSource struct {
	samples []NodeSample
	err     error
}

func (f *fakeSource) NodeMetrics(context.Context) ([]NodeSample, error) { return f.samples, f.err }

func TestPollOnce(t *testing.T) {
	t.Parallel()
	e, clk, _ := newTestExtender(t)
	load(e, poolNodes("r", "runtime", 2), nil, nil)
	src := &fakeSource{samples: []NodeSample{sample("r-0", 1200, t0.Add(-7*time.Second)), sample("r-1", 300, t0.Add(-7*time.Second))}}
	if err := e.pollOnce(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	snap := e.store.rebuild()
	if i, _ := snap.Lookup("r-0"); snap.Node(i).Sample.UsageMilli != 1200 || !snap.Polled.Equal(t0) || snap.PollError != "" {
		t.Fatalf("after a poll: %+v polled %v", snap.Node(i).Sample, snap.Polled)
	}
	if got := testutil.CollectAndCount(e.m.metricAge); got != 1 {
		t.Errorf("metric age histogram series = %d", got)
	}
	// metrics-server goes away: the old samples stay (and turn stale with
	// time), the error is recorded and counted.
	clk.Step(time.Minute)
	src.samples, src.err = nil, errors.New("the server is currently unable to handle the request")
	if err := e.pollOnce(context.Background(), src); err == nil {
		t.Fatal("no error")
	}
	snap = e.store.rebuild()
	if i, _ := snap.Lookup("r-0"); snap.Node(i).Sample.UsageMilli != 1200 || snap.PollError == "" || !snap.Polled.Equal(t0) {
		t.Errorf("after a failed poll: sample %+v, error %q", snap.Node(i).Sample, snap.PollError)
	}
	if got := testutil.ToFloat64(e.m.errors.WithLabelValues(errMetricsPoll)); got != 1 {
		t.Errorf("metrics_poll errors = %v", got)
	}
	if got := e.staleNodes(); got != 2 {
		t.Errorf("stale nodes after a minute without samples = %v, want 2", got)
	}
	if !e.pollFailing.Load() {
		t.Error("poll failure not recorded")
	}
	// It comes back: fresh samples, live again.
	src.samples, src.err = []NodeSample{sample("r-0", 100, clk.Now()), sample("r-1", 100, clk.Now())}, nil
	if err := e.pollOnce(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if snap = e.store.rebuild(); snap.PollError != "" || e.pollFailing.Load() || e.staleNodes() != 0 {
		t.Errorf("after recovery: error %q, stale %v", snap.PollError, e.staleNodes())
	}
}

func TestClientMetricsSource(t *testing.T) {
	t.Parallel()
	c := metricsfake.NewSimpleClientset()
	nm := &v1beta1.NodeMetrics{
		ObjectMeta: metav1.ObjectMeta{Name: "r-0"},
		Timestamp:  metav1.NewTime(t0), Window: metav1.Duration{Duration: 20 * time.Second},
		Usage: v1.ResourceList{v1.ResourceCPU: resource.MustParse("1500m"), v1.ResourceMemory: resource.MustParse("1Gi")},
	}
	noTS := &v1beta1.NodeMetrics{ObjectMeta: metav1.ObjectMeta{Name: "r-1"}}
	// The fake tracker guesses the resource "nodemetricses"; the client
	// lists "nodes".
	gvr := v1beta1.SchemeGroupVersion.WithResource("nodes")
	for _, o := range []*v1beta1.NodeMetrics{nm, noTS} {
		if err := c.Tracker().Create(gvr, o, ""); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ClientMetricsSource(c).NodeMetrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []NodeSample{{Node: "r-0", Sample: Sample{UsageMilli: 1500, Timestamp: t0, Window: 20 * time.Second}}}
	if len(got) != 1 || got[0].Node != want[0].Node || got[0].UsageMilli != 1500 || !got[0].Timestamp.Equal(t0) || got[0].Window != want[0].Window {
		t.Errorf("samples = %+v, want %+v (samples without a timestamp are skipped)", got, want)
	}
}
