package serving

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRegisterProfiling(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	RegisterProfiling(mux)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d", path, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/goroutine?debug=1", nil))
	if !strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("goroutine profile missing: %.200s", rec.Body.String())
	}
}
