//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// summary collects, per test group (top-level test), the result and duration
// of each step (subtest), printed after the run.
var summary = &results{}

type stepResult struct {
	name     string
	status   string // PASS, FAIL, SKIP
	duration time.Duration
}

type groupResult struct {
	name     string
	status   string
	duration time.Duration
	steps    []stepResult
}

type results struct {
	mu     sync.Mutex
	groups []*groupResult
}

// group registers the top-level test t as a group of the summary. Call it
// first in every TestXxx.
func group(t *testing.T) *groupResult {
	g := &groupResult{name: t.Name()}
	summary.mu.Lock()
	summary.groups = append(summary.groups, g)
	summary.mu.Unlock()
	start := time.Now()
	t.Cleanup(func() {
		summary.mu.Lock()
		defer summary.mu.Unlock()
		g.duration = time.Since(start)
		g.status = status(t)
	})
	dumpHdscaleOnFailure(t)
	return g
}

// step runs f as subtest name of the group and records its result.
func (g *groupResult) step(t *testing.T, name string, f func(t *testing.T)) bool {
	t.Helper()
	start := time.Now()
	var st string
	ok := t.Run(name, func(t *testing.T) {
		t.Cleanup(func() { st = status(t) })
		f(t)
	})
	summary.mu.Lock()
	g.steps = append(g.steps, stepResult{name: name, status: st, duration: time.Since(start)})
	summary.mu.Unlock()
	return ok
}

func status(t *testing.T) string {
	switch {
	case t.Failed():
		return "FAIL"
	case t.Skipped():
		return "SKIP"
	default:
		return "PASS"
	}
}

func (r *results) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.groups) == 0 {
		return
	}
	fmt.Fprintln(w, "\n==== hdscale e2e summary ====")
	for _, g := range r.groups {
		st := g.status
		if st == "" {
			st = "INCOMPLETE"
		}
		counts := map[string]int{}
		for _, s := range g.steps {
			counts[s.status]++
		}
		fmt.Fprintf(w, "%-4s %-16s %8v  (%d passed, %d failed, %d skipped)\n", st, g.name,
			g.duration.Round(time.Second), counts["PASS"], counts["FAIL"], counts["SKIP"])
		for _, s := range g.steps {
			fmt.Fprintf(w, "     %-4s %-60s %8v\n", s.status, truncate(s.name, 60), s.duration.Round(100*time.Millisecond))
		}
	}
	fmt.Fprintln(w, strings.Repeat("=", 29))
}
