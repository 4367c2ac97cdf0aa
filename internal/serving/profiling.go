package serving

import (
	"net/http"
	"net/http/pprof"
)

// RegisterProfiling serves Go's runtime profiles (net/http/pprof) under
// /debug/pprof/ on mux. Components call it only when asked to (--profiling):
// the health listener is plain HTTP, and a profile costs CPU while it runs.
func RegisterProfiling(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
