package main

import (
	"strings"
	"testing"
	"time"
)

func TestWriteMetrics(t *testing.T) {
	t.Parallel()
	s := newStatsReport(poolStats{
		Workers: 2, Busy: 1, Queued: 3, Started: 5, Completed: 4, Failed: 1,
		QueueWait: 1500 * time.Millisecond, Run: 2 * time.Second, CPU: 250 * time.Millisecond,
	}, 7, 1)
	var b strings.Builder
	if err := writeMetrics(&b, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# TYPE hdscale_fakeruntime_workers gauge\nhdscale_fakeruntime_workers 2\n",
		"hdscale_fakeruntime_workers_busy 1\n",
		"hdscale_fakeruntime_queue_length 3\n",
		"# TYPE hdscale_fakeruntime_executions_total counter\nhdscale_fakeruntime_executions_total 4\n",
		"hdscale_fakeruntime_executions_started_total 5\n",
		"hdscale_fakeruntime_executions_failed_total 1\n",
		"hdscale_fakeruntime_queue_wait_seconds_total 1.5\n",
		"hdscale_fakeruntime_cpu_seconds_total 0.25\n",
		"hdscale_fakeruntime_bad_requests_total 7\n",
		"hdscale_fakeruntime_panics_total 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.HasPrefix(line, "# HELP hdscale_") && !strings.HasPrefix(line, "# TYPE hdscale_") && !strings.HasPrefix(line, "hdscale_fakeruntime_") {
			t.Errorf("unexpected line %q", line)
		}
	}
}
