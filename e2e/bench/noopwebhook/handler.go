package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// maxBody caps a request body (the API server limits objects to ~1.5 MiB).
const maxBody = 3 << 20

// handler answers every AdmissionReview with allowed: true and no patch.
type handler struct {
	requests atomic.Uint64
	errors   atomic.Uint64
	bufs     sync.Pool
}

func newHandler() *handler {
	return &handler{bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}}
}

// review is the part of an admission.k8s.io/v1 AdmissionReview the answer needs.
type review struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		UID string `json:"uid"`
	} `json:"request"`
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		h.fail(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	buf := h.bufs.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); h.bufs.Put(buf) }()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBody)); err != nil {
		h.fail(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	var rv review
	if err := json.Unmarshal(buf.Bytes(), &rv); err != nil {
		h.fail(w, http.StatusBadRequest, "decoding the AdmissionReview: "+err.Error())
		return
	}
	if rv.Request == nil || rv.APIVersion != "admission.k8s.io/v1" || rv.Kind != "AdmissionReview" {
		h.fail(w, http.StatusBadRequest, "not an admission.k8s.io/v1 AdmissionReview request")
		return
	}
	buf.Reset()
	buf.WriteString(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":`)
	writeJSONString(buf, rv.Request.UID)
	buf.WriteString(`,"allowed":true}}`)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
	h.requests.Add(1)
}

func (h *handler) fail(w http.ResponseWriter, code int, msg string) {
	h.errors.Add(1)
	http.Error(w, msg, code)
}

// writeJSONString writes s as a JSON string (UIDs are plain UUIDs; anything
// else goes through encoding/json).
func writeJSONString(buf *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b, _ := json.Marshal(s)
			buf.Write(b)
			return
		}
	}
	buf.WriteByte('"')
	buf.WriteString(s)
	buf.WriteByte('"')
}

// serveMetrics writes the counters the benchmark drivers read, in the
// Prometheus text format, under the names client_golang's process and Go
// collectors use (so one parser reads this and hdscale's /metrics).
func (h *handler) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	hwm, rss := procStatus()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "noop_webhook_requests_total %d\n", h.requests.Load())
	fmt.Fprintf(w, "noop_webhook_errors_total %d\n", h.errors.Load())
	fmt.Fprintf(w, "process_cpu_seconds_total %g\n", cpu)
	fmt.Fprintf(w, "go_memstats_mallocs_total %d\n", ms.Mallocs)
	fmt.Fprintf(w, "go_memstats_alloc_bytes_total %d\n", ms.TotalAlloc)
	fmt.Fprintf(w, "go_gc_cycles_total %d\n", ms.NumGC)
	fmt.Fprintf(w, "process_resident_memory_bytes %d\n", rss)
	fmt.Fprintf(w, "process_resident_memory_peak_bytes %d\n", hwm)
}

// procStatus returns VmHWM and VmRSS of this process in bytes (0 if unknown).
func procStatus() (hwm, rss uint64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	return parseStatus(f)
}

func parseStatus(r io.Reader) (hwm, rss uint64) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmHWM" && k != "VmRSS") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		if k == "VmHWM" {
			hwm = n << 10
		} else {
			rss = n << 10
		}
	}
	return hwm, rss
}
