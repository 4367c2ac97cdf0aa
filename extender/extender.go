package extender

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Verbs.
const (
	verbFilter     = "filter"
	verbPrioritize = "prioritize"
)

// Decision results (the result label of hdscale_extender_decisions_total).
const (
	resultPlaced      = "placed"      // one node predicted and reserved
	resultPassed      = "passed"      // filter: several nodes pass
	resultNone        = "none"        // no node passes / is eligible
	resultPassthrough = "passthrough" // not a runtime replica
	resultInvalid     = "invalid"     // unusable annotation
	resultEmpty       = "empty"       // no candidate nodes
	resultError       = "error"       // bad request
)

// Extender holds the extender's state — the snapshot store, the
// reservations, the explain log and the metrics — and serves the protocol.
// Create it with New; Run wires it to a cluster.
type Extender struct {
	opts    Options
	log     logr.Logger
	clock   clock.WithTicker
	store   *store
	res     *Reservations
	explain *explainLog
	m       *metrics
	pods    podCache
	bodies  *bodyBudget
	// pollFailing is true while NodeMetrics polls fail.
	pollFailing atomic.Bool
	// audit checks the pods blocking a placement (nil: not audited; set
	// by Serve) and auditCtx bounds its calls.
	audit    *auditor
	auditCtx context.Context
}

// New returns an Extender for valid opts, registering its metrics on reg.
func New(opts Options, log logr.Logger, reg prometheus.Registerer) (*Extender, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("extender options: %w", err)
	}
	e := &Extender{opts: opts, log: log, clock: opts.Clock, res: NewReservations(opts.ReservationTTL), explain: newExplainLog(opts.ExplainHistory),
		bodies: newBodyBudget(opts.BodyBytesInFlight(), opts.MaxBodyBytes)}
	e.store = newStore(opts.ShapeTolerance, e.res, opts.Clock)
	m, err := newMetrics(reg, e.staleNodes, func() float64 { return float64(e.res.Count(e.clock.Now())) },
		func() float64 { return float64(e.bodies.inFlight.Load()) })
	if err != nil {
		return nil, fmt.Errorf("registering extender metrics: %w", err)
	}
	e.m = m
	e.store.built = func(d time.Duration) { m.buildTime.Observe(d.Seconds()) }
	return e, nil
}

// staleNodes counts pool nodes without a fresh sample.
func (e *Extender) staleNodes() float64 {
	snap, now, maxAge := e.store.load(), e.clock.Now(), e.opts.MaxAge()
	n := 0
	for i := range snap.nodes {
		if node := &snap.nodes[i]; node.Pool != "" && !node.live(now, maxAge) {
			n++
		}
	}
	return float64(n)
}

// outcome is what decide concluded.
type outcome struct {
	kind   podKind
	result string
	// winner is the index in evs of the reserved node, -1 when none.
	winner int
	ctx    *evalCtx
	msg    string
	// decision is the explain entry; detailed says whether evs belong to it.
	decision Decision
	detailed bool
}

// record files the decision in the explain log, taking *evs (see
// explainLog.record). Call it once the response is written.
func (e *Extender) record(o *outcome, evs *[]nodeEval) {
	var texts *[numReasons]string
	if o.ctx != nil {
		texts = &o.ctx.texts
	}
	if !o.detailed {
		evs = nil
	}
	e.explain.record(o.decision, evs, texts)
}

// text returns the FailedNodes reason for ev.
func (o *outcome) text(ev *nodeEval) string {
	if ev.Reason == rInvalidPod || o.ctx == nil {
		return o.msg
	}
	return o.ctx.text(ev.Reason)
}

// decide runs verb for pod over evs (Name and Idx set) against snap: the one
// path every request takes. It fills evs, records the reservation, counts
// metrics, logs at V(1) and prepares the explain entry (filed by record once
// the response is written).
func (e *Extender) decide(verb string, snap *Snapshot, pod *v1.Pod, evs []nodeEval, start time.Time) outcome {
	now := e.clock.Now()
	pc, kind, msg := e.pods.classify(pod)
	o := outcome{kind: kind, winner: -1, msg: msg}
	passed := 0
	switch {
	case kind == kindPassthrough:
		for i := range evs {
			evs[i].Verdict, evs[i].Reason, evs[i].Score = vPass, rNone, 0
		}
		o.result, passed = resultPassthrough, len(evs)
	case kind == kindInvalid:
		for i := range evs {
			evs[i].Verdict, evs[i].Reason, evs[i].Score = vUnresolvable, rInvalidPod, 0
		}
		o.result = resultInvalid
		e.m.errors.WithLabelValues(errInvalidPod).Inc()
	case len(evs) == 0:
		o.result = resultEmpty
	default:
		c := newEvalCtx(snap, e.res.load(), &pc, now, &e.opts)
		defer c.release()
		o.ctx = c
		if verb == verbFilter {
			fr := c.filter(evs)
			passed = fr.Passed
			if fr.HotWaived {
				o.msg = fmt.Sprintf("hot threshold %g%% waived: every eligible node is at or above it", c.hot*100)
			}
			o.winner = only(evs, passed)
			if passed > 1 && e.opts.FilterToWinner {
				o.winner = pickWinner(evs)
			}
			switch {
			case passed == 0:
				o.result = resultNone
				e.auditBlockers(evs, pc.Group)
			case o.winner >= 0:
				o.result = resultPlaced
			default:
				o.result = resultPassed
			}
		} else {
			o.winner = c.score(evs)
			for i := range evs {
				if evs[i].Verdict == vPass {
					passed++
				}
			}
			o.result = resultNone
			if o.winner >= 0 {
				o.result = resultPlaced
			}
		}
		if o.winner >= 0 {
			e.res.Reserve(Reservation{
				UID: pc.UID, Namespace: pc.Namespace, Name: pc.Name, Node: evs[o.winner].Name, Group: pc.Group,
				EstimateMilli: pc.EstimateMilli, RequestMilli: pc.RequestMilli, ResourceVersion: pc.ResourceVersion, Verb: verb,
			}, now)
		}
		unknown := 0
		for i := range evs {
			if evs[i].Reason != rNone {
				c.text(evs[i].Reason) // resolve once, for explain
			}
			if evs[i].Idx < 0 {
				unknown++
			}
		}
		if unknown > 0 {
			e.m.errors.WithLabelValues(errUnknownNode).Add(float64(unknown))
		}
	}
	e.m.decisions.WithLabelValues(verb, o.result).Inc()
	d := Decision{
		Time: now, Verb: verb, Pod: pod.Namespace + "/" + pod.Name, UID: pod.UID, Kind: kind.String(),
		Result: o.result, Message: o.msg, Candidates: len(evs), Passed: passed,
		Snapshot: snap.Generation, MetricsError: snap.PollError, DurationSeconds: e.clock.Since(start).Seconds(),
	}
	if !snap.Polled.IsZero() {
		p := snap.Polled
		d.MetricsPolled = &p
	}
	if kind == kindRuntime {
		d.Pattern, d.Pool = string(pc.Placement.Pattern), pc.Placement.Pool
		d.EstimateMilli, d.RequestMilli = pc.EstimateMilli, pc.RequestMilli
		if o.winner >= 0 {
			d.Chosen = evs[o.winner].Name
		}
		o.detailed = true
	}
	o.decision = d
	if l := e.log.V(1); l.Enabled() && kind != kindPassthrough {
		kv := []any{"verb", verb, "pod", d.Pod, "uid", pod.UID, "result", o.result, "candidates", len(evs), "passed", passed}
		if o.winner >= 0 {
			w := &evs[o.winner]
			kv = append(kv, "node", w.Name, "score", w.Score, "utilPercent", w.Util*100, "live", w.Live,
				"estimateMilli", pc.EstimateMilli, "replicas", w.Replicas, "cap", w.Cap)
		}
		if o.msg != "" {
			kv = append(kv, "message", o.msg)
		}
		l.Info("placement decision", kv...)
	}
	return o
}

// auditBlockers starts an audit of the runtime pods counted on the nodes
// that failed only for the per-node cap (see audit.go).
func (e *Extender) auditBlockers(evs []nodeEval, g groupKey) {
	if e.audit == nil {
		return
	}
	var refs []podRef
	e.store.mu.Lock()
	for i := range evs {
		if evs[i].Reason == rCap {
			refs = append(refs, e.store.b.RuntimePods(evs[i].Name, g)...)
		}
	}
	e.store.mu.Unlock()
	if len(refs) > 0 {
		e.audit.start(e.auditCtx, refs)
	}
}
