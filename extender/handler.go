package extender

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/hdscale/hdscale/internal/serving"
)

// Handler serves the extender protocol: POST /filter and POST /prioritize
// (JSON ExtenderArgs in, ExtenderFilterResult or HostPriorityList out). Bad
// requests get a 4xx with {"Error": "..."}; a panic is recovered, counted
// and answered with a 500.
func (e *Extender) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/"+verbFilter, e.verbHandler(verbFilter))
	mux.Handle("/"+verbPrioritize, e.verbHandler(verbPrioritize))
	return serving.Recover(e.log, e.m.panics, mux)
}

// reqBuffers are the per-request buffers, reused through a free list.
type reqBuffers struct {
	body bytes.Buffer
	out  []byte
	evs  []nodeEval
	dec  argsDecoder
}

var reqBufs = newFreeList[reqBuffers](4)

// maxPooled bounds the buffers kept for reuse (one oversized request must
// not pin its memory).
const maxPooled = 4 << 20

func (e *Extender) verbHandler(verb string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := e.clock.Now()
		defer func() { e.m.latency.WithLabelValues(verb).Observe(e.clock.Since(start).Seconds()) }()
		if r.Method != http.MethodPost {
			e.fail(w, verb, errMethod, http.StatusMethodNotAllowed, "extender: "+r.Method+" "+r.URL.Path+": only POST is allowed", "Allow", http.MethodPost)
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			e.fail(w, verb, errContentType, http.StatusUnsupportedMediaType, fmt.Sprintf("extender: content type %q: must be application/json", r.Header.Get("Content-Type")))
			return
		}
		if r.ContentLength > e.opts.MaxBodyBytes {
			e.fail(w, verb, errBodyTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("extender: body of %d bytes exceeds the limit of %d", r.ContentLength, e.opts.MaxBodyBytes))
			return
		}
		release, err := e.bodies.reserve(r.Context(), r.ContentLength)
		if err != nil {
			e.fail(w, verb, errBusy, http.StatusServiceUnavailable, "extender: "+err.Error())
			return
		}
		defer release()
		bufs := reqBufs.get()
		defer func() {
			if bufs.body.Cap() <= maxPooled && cap(bufs.out) <= maxPooled {
				bufs.dec.snap, bufs.dec.pods = nil, nil
				reqBufs.put(bufs)
			}
		}()
		bufs.body.Reset()
		if _, err := bufs.body.ReadFrom(http.MaxBytesReader(w, r.Body, e.opts.MaxBodyBytes)); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				e.fail(w, verb, errBodyTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("extender: body exceeds the limit of %d bytes", e.opts.MaxBodyBytes))
				return
			}
			e.fail(w, verb, errDecode, http.StatusBadRequest, "extender: reading body: "+err.Error())
			return
		}
		// One snapshot for the whole request: decoding interns names from
		// it and the decision reads it.
		snap := e.store.load()
		bufs.dec.snap, bufs.dec.pods = snap, &e.pods
		args, err := bufs.dec.decode(bufs.body.Bytes())
		if err != nil {
			e.fail(w, verb, errDecode, http.StatusBadRequest, "extender: decoding ExtenderArgs: "+err.Error())
			return
		}
		if args.Pod == nil {
			e.fail(w, verb, errNoPod, http.StatusBadRequest, "extender: ExtenderArgs has no Pod")
			return
		}
		evs := bufs.evs[:0]
		nodeList := args.Nodes
		switch {
		case args.NodeNames != nil:
			for i, name := range *args.NodeNames {
				evs = append(evs, nodeEval{Name: name, Idx: bufs.dec.idx[i]})
			}
			nodeList = nil // answer in NodeNames only
		case args.Nodes != nil: // kube-scheduler without nodeCacheCapable
			for i := range args.Nodes.Items {
				name := args.Nodes.Items[i].Name
				idx, ok := snap.Lookup(name)
				if !ok {
					idx = -1
				}
				evs = append(evs, nodeEval{Name: name, Idx: idx})
			}
		}
		bufs.evs = evs
		o := e.decide(verb, snap, args.Pod, evs, start)
		out := bufs.out[:0]
		if verb == verbFilter {
			listed := -1 // every passing node
			if e.opts.FilterToWinner {
				listed = o.winner
			}
			out, err = appendFilterResult(out, evs, snap.quoted, o.text, nodeList, listed)
			if err != nil {
				e.fail(w, verb, errEncode, http.StatusInternalServerError, "extender: "+err.Error())
				return
			}
		} else {
			listed := evs
			if !e.opts.ScoreAllNodes {
				listed = evs[:0]
				if o.winner >= 0 {
					listed = evs[o.winner : o.winner+1]
				}
			}
			out = appendPriorities(out, listed, snap.hostPrefix)
		}
		bufs.out = out
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
		e.record(&o, &bufs.evs)
	})
}

// fail answers a bad request: status and {"Error": msg}, counted.
func (e *Extender) fail(w http.ResponseWriter, verb, reason string, status int, msg string, header ...string) {
	e.m.errors.WithLabelValues(reason).Inc()
	e.m.decisions.WithLabelValues(verb, resultError).Inc()
	e.log.V(1).Info("bad extender request", "verb", verb, "reason", reason, "status", status, "error", msg)
	for i := 0; i+1 < len(header); i += 2 {
		w.Header().Set(header[i], header[i+1])
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(appendError(nil, msg))
}
