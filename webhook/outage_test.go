package webhook

import (
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
)

var leaseT0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func schedulerLease(holder string, renewed time.Time) *coordinationv1.Lease {
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "hdscale-system", Name: "hdscale-scheduler"}}
	l.Spec.LeaseDurationSeconds = ptr(int32(15))
	if holder != "" {
		l.Spec.HolderIdentity = ptr(holder)
	}
	if !renewed.IsZero() {
		l.Spec.RenewTime = &metav1.MicroTime{Time: renewed}
	}
	return l
}

func TestSchedulerStatusOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		lease *coordinationv1.Lease
		live  bool
		desc  string
	}{
		{"fresh", schedulerLease("s-1", leaseT0.Add(-3*time.Second)), true, "leader s-1 renewed lease hdscale-system/hdscale-scheduler 3s ago"},
		{"within duration and grace", schedulerLease("s-1", leaseT0.Add(-20*time.Second)), true, ""},
		{"stale", schedulerLease("s-1", leaseT0.Add(-21*time.Second)), false, "leader lease hdscale-system/hdscale-scheduler last renewed 21s ago by s-1"},
		{"no holder (released on shutdown)", schedulerLease("", leaseT0), false, "has no holder"},
		{"no lease", nil, false, "no leader lease hdscale-system/hdscale-scheduler"},
		{"renew time in the future (skew) is fresh", schedulerLease("s-2", leaseT0.Add(time.Second)), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := SchedulerStatusOf(tt.lease, leaseT0)
			if s.Live != tt.live {
				t.Errorf("live = %v, want %v (%+v)", s.Live, tt.live, s)
			}
			if d := s.Describe("hdscale-system/hdscale-scheduler"); !strings.Contains(d, tt.desc) {
				t.Errorf("Describe = %q, want it to contain %q", d, tt.desc)
			}
		})
	}
}

func pendingRuntimePod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{SchedulerName: DefaultSchedulerName},
		Status:     corev1.PodStatus{Phase: corev1.PodPending},
	}
}

// While the lease is stale every Pending pod of the scheduler gets one
// Warning event per outage, the metrics say so, and admission warns; once a
// leader renews again nothing more is written and the next outage warns anew.
func TestSchedulerWatchOutage(t *testing.T) {
	t.Parallel()
	lease := schedulerLease("s-1", leaseT0.Add(-time.Minute))
	client := fake.NewClientset(lease, pendingRuntimePod("a"), pendingRuntimePod("b"))
	clk := clocktesting.NewFakeClock(leaseT0)
	reg := prometheus.NewRegistry()
	w, err := NewSchedulerWatch(client, "hdscale-system", "hdscale-scheduler", DefaultSchedulerName, clk, reg, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec := events.NewFakeRecorder(10)
	w.recorder = rec
	w.Pending = func() ([]*corev1.Pod, error) {
		return []*corev1.Pod{pendingRuntimePod("a"), pendingRuntimePod("b")}, nil
	}
	if got := w.Warning(); !strings.Contains(got, "hdscale: no live hdscale-scheduler (leader lease renewed 1m0s ago): the pod stays Pending until it returns") ||
		len(capWarning(got)) != len(got) {
		t.Errorf("admission warning %q", got)
	}
	if err := w.emitOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(rec.Events) != 2 {
		t.Fatalf("%d events, want 2", len(rec.Events))
	}
	ev := <-rec.Events
	if !strings.HasPrefix(ev, "Warning SchedulerUnavailable No live hdscale-scheduler") {
		t.Errorf("event %q", ev)
	}
	<-rec.Events
	if err := w.emitOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(rec.Events) != 0 {
		t.Errorf("a second round wrote %d more events during the same outage", len(rec.Events))
	}
	if got := testutil.ToFloat64(w.emitted); got != 2 {
		t.Errorf("events_total = %v, want 2", got)
	}
	if n, err := testutil.GatherAndCount(reg, "hdscale_scheduler_live"); err != nil || n != 1 {
		t.Errorf("hdscale_scheduler_live series %d, %v", n, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP hdscale_scheduler_live 1 while hdscale-scheduler has a leader that renews its lease, else 0 (runtime pods stay Pending).
# TYPE hdscale_scheduler_live gauge
hdscale_scheduler_live 0
`), "hdscale_scheduler_live"); err != nil {
		t.Error(err)
	}

	// The scheduler returns: a fresh renewal.
	fresh := schedulerLease("s-2", leaseT0)
	if _, err := client.CoordinationV1().Leases("hdscale-system").Update(t.Context(), fresh, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lease update", func() bool { return w.Status().Live })
	if w.Warning() != "" {
		t.Errorf("warning while live: %q", w.Warning())
	}
	if err := w.emitOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(rec.Events) != 0 {
		t.Error("events written while the scheduler is live")
	}
	// The next outage warns the still-Pending pods again.
	clk.Step(time.Minute)
	if err := w.emitOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(rec.Events) != 2 {
		t.Errorf("%d events in the second outage, want 2", len(rec.Events))
	}
}
