//go:build e2e

package e2e

import (
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// warnings collects the Warning headers of the API responses a client
// received (admission webhooks return their warnings there).
type warnings struct {
	mu   sync.Mutex
	list []string
}

var _ rest.WarningHandler = (*warnings)(nil)

// HandleWarningHeader implements rest.WarningHandler.
func (w *warnings) HandleWarningHeader(code int, _ string, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// take returns the collected warnings and forgets them.
func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// warningClient is a clientset whose responses' warnings go to the returned
// collector (one per test, so parallel requests elsewhere do not mix in).
func warningClient(t *testing.T) (kubernetes.Interface, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(suite.cfg)
	cfg.WarningHandler = w
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("building a client with a warning collector: %v", err)
	}
	return c, w
}

// warningsMention returns the warnings that mention every one of words.
func warningsMention(ws []string, words ...string) []string {
	var out []string
	for _, w := range ws {
		all := true
		for _, word := range words {
			if !strings.Contains(w, word) {
				all = false
				break
			}
		}
		if all {
			out = append(out, w)
		}
	}
	return out
}
