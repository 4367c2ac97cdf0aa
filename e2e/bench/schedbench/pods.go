package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/e2e/bench/internal/benchkit"
	"github.com/hdscale/hdscale/e2e/bench/internal/stats"
)

// createPods creates o.Pods pods named <label>-<i> on o.Parallel goroutines.
func createPods(ctx context.Context, c *benchkit.Clients, o options, tmpl benchkit.RuntimePod, label string) error {
	next := make(chan int)
	errs := make(chan error, o.Parallel)
	var wg sync.WaitGroup
	for w := 0; w < o.Parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := tmpl.Pod(fmt.Sprintf("%s-%04d", label, i))
				if _, err := c.Kube.CoreV1().Pods(o.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("creating pod %s: %w", p.Name, err)
					return
				}
			}
		}()
	}
	var err error
loop:
	for i := 0; i < o.Pods; i++ {
		select {
		case next <- i:
		case err = <-errs:
			break loop
		case <-ctx.Done():
			err = ctx.Err()
			break loop
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// scrape reads the scheduler's algorithm-duration histogram; nil (and a log
// line) when the variant has no metrics URL or the scrape fails.
func scrape(ctx context.Context, v variant) *stats.Histogram {
	if v.Metrics == "" {
		return nil
	}
	h, err := benchkit.ScrapeHistogram(ctx, v.Metrics, algoMetric, nil)
	if err != nil {
		log.Printf("%s: %v", v.Name, err)
		return nil
	}
	return &h
}

// extenderMetric is the extender's own request duration, by verb.
const extenderMetric = "hdscale_extender_request_duration_seconds"

// scrapeExtender reads the extender's request-duration histograms of the
// filter and prioritize verbs; nil when the variant has no extender URL or
// a scrape fails.
func scrapeExtender(ctx context.Context, v variant) map[string]stats.Histogram {
	if v.Extender == "" {
		return nil
	}
	out := map[string]stats.Histogram{}
	for _, verb := range []string{"filter", "prioritize"} {
		h, err := benchkit.ScrapeHistogram(ctx, v.Extender, extenderMetric, map[string]string{"verb": verb})
		if err != nil {
			log.Printf("%s extender: %v", v.Name, err)
			return nil
		}
		out[verb] = h
	}
	return out
}

// cpuSnapshot reads the CPU time used so far by the variant's scheduler
// ("scheduler") and every tracked process; unreadable ones are left out.
func cpuSnapshot(o options, v variant) map[string]time.Duration {
	out := map[string]time.Duration{}
	procs := append([]tracked{}, o.Track...)
	if v.PID > 0 {
		procs = append(procs, tracked{Name: "scheduler", PID: v.PID})
	}
	for _, p := range procs {
		if t, err := benchkit.ProcCPU(p.PID); err == nil {
			out[p.Name] = t
		}
	}
	return out
}

const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)

func syscallKill(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }
