package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
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

// handler answers every AdmissionReview with allowed: true and, unless it
// patches (newPatchingHandler), no patch.
type handler struct {
	requests atomic.Uint64
	errors   atomic.Uint64
	bufs     sync.Pool
	// patch is set in the patching mode: the base64 JSON patches adding the
	// annotation, by what the object already has.
	patch *annotationPatches
}

func newHandler() *handler {
	return &handler{bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}}
}

// newPatchingHandler answers every request that carries an object with a
// one-operation JSON patch adding the annotation key=value (the cheapest
// patch a webhook can return), so the API server has to apply it.
func newPatchingHandler(key, value string) (*handler, error) {
	if key == "" {
		return nil, errors.New("empty annotation key")
	}
	h := newHandler()
	pointer := strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
	enc := func(ops ...patchOp) (string, error) {
		b, err := json.Marshal(ops)
		return base64.StdEncoding.EncodeToString(b), err
	}
	var p annotationPatches
	var err error
	if p.toMap, err = enc(patchOp{Op: "add", Path: "/metadata/annotations/" + pointer, Value: value}); err != nil {
		return nil, err
	}
	if p.newMap, err = enc(patchOp{Op: "add", Path: "/metadata/annotations", Value: map[string]string{key: value}}); err != nil {
		return nil, err
	}
	if p.newMeta, err = enc(patchOp{Op: "add", Path: "/metadata", Value: map[string]any{"annotations": map[string]string{key: value}}}); err != nil {
		return nil, err
	}
	h.patch = &p
	return h, nil
}

// annotationPatches are base64-encoded JSON patches (the AdmissionResponse's
// patch field) adding one annotation: into the object's annotations map, as
// a new map (no or null annotations: the parent of the key's path does not
// exist), or as new metadata (no metadata).
type annotationPatches struct{ toMap, newMap, newMeta string }

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// review is the part of an admission.k8s.io/v1 AdmissionReview the answer needs.
type review struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		UID string `json:"uid"`
	} `json:"request"`
}

// patchReview is review plus what choosing the patch needs: whether the
// object has metadata and non-null metadata.annotations (nothing else of the
// object is decoded).
type patchReview struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		UID    string `json:"uid"`
		Object *struct {
			Metadata *struct {
				Annotations present `json:"annotations"`
			} `json:"metadata"`
		} `json:"object"`
	} `json:"request"`
}

// present records whether a JSON value was there and not null, without
// keeping it.
type present bool

func (p *present) UnmarshalJSON(b []byte) error {
	*p = present(string(b) != "null")
	return nil
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
	var uid, patch string
	var ok bool
	if h.patch == nil {
		var rv review
		if err := json.Unmarshal(buf.Bytes(), &rv); err != nil {
			h.fail(w, http.StatusBadRequest, "decoding the AdmissionReview: "+err.Error())
			return
		}
		if ok = rv.Request != nil && rv.APIVersion == "admission.k8s.io/v1" && rv.Kind == "AdmissionReview"; ok {
			uid = rv.Request.UID
		}
	} else {
		var rv patchReview
		if err := json.Unmarshal(buf.Bytes(), &rv); err != nil {
			h.fail(w, http.StatusBadRequest, "decoding the AdmissionReview: "+err.Error())
			return
		}
		if ok = rv.Request != nil && rv.APIVersion == "admission.k8s.io/v1" && rv.Kind == "AdmissionReview"; ok {
			uid = rv.Request.UID
			switch obj := rv.Request.Object; {
			case obj == nil: // no object (DELETE, CONNECT): nothing to patch
			case obj.Metadata == nil:
				patch = h.patch.newMeta
			case !bool(obj.Metadata.Annotations):
				patch = h.patch.newMap
			default:
				patch = h.patch.toMap
			}
		}
	}
	if !ok {
		h.fail(w, http.StatusBadRequest, "not an admission.k8s.io/v1 AdmissionReview request")
		return
	}
	buf.Reset()
	buf.WriteString(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":`)
	writeJSONString(buf, uid)
	buf.WriteString(`,"allowed":true`)
	if patch != "" {
		buf.WriteString(`,"patchType":"JSONPatch","patch":"`)
		buf.WriteString(patch)
		buf.WriteByte('"')
	}
	buf.WriteString(`}}`)
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
