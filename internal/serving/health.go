package serving

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// Check reports nil when the component it checks is ready.
type Check func() error

// Health serves /healthz (the process is alive) and /readyz (every named
// check passes). A failing /readyz lists each failing check and its reason, so
// `kubectl describe pod` and the probe log say why a pod is not ready.
type Health struct {
	mu     sync.RWMutex
	checks map[string]Check
}

// NewHealth returns a Health with no checks (ready).
func NewHealth() *Health { return &Health{checks: map[string]Check{}} }

// AddReadyCheck registers a named readiness check.
func (h *Health) AddReadyCheck(name string, c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks[name] = c
}

// Ready runs every check and returns the failures joined, or nil.
func (h *Health) Ready() error {
	h.mu.RLock()
	names := make([]string, 0, len(h.checks))
	for n := range h.checks {
		names = append(names, n)
	}
	h.mu.RUnlock()
	sort.Strings(names)
	var failed []string
	for _, n := range names {
		h.mu.RLock()
		c := h.checks[n]
		h.mu.RUnlock()
		if err := c(); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", n, err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("not ready: %s", strings.Join(failed, "; "))
	}
	return nil
}

// Register adds /healthz and /readyz to mux.
func (h *Health) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := h.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintln(w, err.Error())
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}
