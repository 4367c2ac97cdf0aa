package main

import (
	"fmt"
	"io"
)

// statsReport is the body of GET /engine/stats and the source of /metrics.
type statsReport struct {
	Workers           int     `json:"workers"`
	BusyWorkers       int     `json:"busy_workers"`
	QueueLength       int     `json:"queue_length"`
	ExecutionsStarted uint64  `json:"executions_started_total"`
	Executions        uint64  `json:"executions_total"`
	ExecutionsFailed  uint64  `json:"executions_failed_total"`
	ExecutionsAborted uint64  `json:"executions_aborted_total"`
	QueueWaitSeconds  float64 `json:"queue_wait_seconds_total"`
	RunSeconds        float64 `json:"run_seconds_total"`
	CPUSeconds        float64 `json:"cpu_seconds_total"`
	BadRequests       uint64  `json:"bad_requests_total"`
	Panics            uint64  `json:"panics_total"`
}

func newStatsReport(p poolStats, badRequests, panics uint64) statsReport {
	return statsReport{
		Workers:           p.Workers,
		BusyWorkers:       p.Busy,
		QueueLength:       p.Queued,
		ExecutionsStarted: p.Started,
		Executions:        p.Completed,
		ExecutionsFailed:  p.Failed,
		ExecutionsAborted: p.Aborted,
		QueueWaitSeconds:  p.QueueWait.Seconds(),
		RunSeconds:        p.Run.Seconds(),
		CPUSeconds:        p.CPU.Seconds(),
		BadRequests:       badRequests,
		Panics:            panics,
	}
}

// writeMetrics writes s in the Prometheus text exposition format.
func writeMetrics(w io.Writer, s statsReport) error {
	metrics := []struct {
		name, typ, help string
		value           any
	}{
		{"workers", "gauge", "Size of the worker pool (WEB_CONCURRENCY).", s.Workers},
		{"workers_busy", "gauge", "Workers running an execution.", s.BusyWorkers},
		{"queue_length", "gauge", "Executions waiting for a worker.", s.QueueLength},
		{"executions_started_total", "counter", "Executions that got a worker.", s.ExecutionsStarted},
		{"executions_total", "counter", "Executions that completed successfully.", s.Executions},
		{"executions_failed_total", "counter", "Executions that failed.", s.ExecutionsFailed},
		{"executions_aborted_total", "counter", "Executions aborted by shutdown.", s.ExecutionsAborted},
		{"queue_wait_seconds_total", "counter", "Time executions spent waiting for a worker.", s.QueueWaitSeconds},
		{"run_seconds_total", "counter", "Wall time executions held a worker.", s.RunSeconds},
		{"cpu_seconds_total", "counter", "CPU time burnt by executions.", s.CPUSeconds},
		{"bad_requests_total", "counter", "Execution requests rejected as invalid.", s.BadRequests},
		{"panics_total", "counter", "HTTP handler panics recovered.", s.Panics},
	}
	for _, m := range metrics {
		name := "hdscale_fakeruntime_" + m.name
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, m.help, name, m.typ, name, m.value); err != nil {
			return err
		}
	}
	return nil
}
