package extender

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Decision is one explained extender decision, as GET /explain shows it.
type Decision struct {
	Time time.Time `json:"time"`
	Verb string    `json:"verb"`
	// Pod is namespace/name.
	Pod string    `json:"pod"`
	UID types.UID `json:"uid,omitempty"`
	// Kind is runtime, passthrough or invalid.
	Kind    string `json:"kind"`
	Pattern string `json:"pattern,omitempty"`
	Pool    string `json:"pool,omitempty"`
	// Result is the decisions_total result label.
	Result  string `json:"result"`
	Message string `json:"message,omitempty"`
	// Chosen is the node the extender predicted and reserved, if any.
	Chosen        string `json:"chosen,omitempty"`
	EstimateMilli int64  `json:"estimateMilli,omitempty"`
	RequestMilli  int64  `json:"requestMilli,omitempty"`
	// Candidates is the number of nodes in the request, Passed the number
	// that passed (filter) or were eligible (prioritize).
	Candidates int `json:"candidates"`
	Passed     int `json:"passed"`
	// Snapshot is the generation of the facts the decision read.
	Snapshot        uint64        `json:"snapshot"`
	MetricsPolled   *time.Time    `json:"metricsPolled,omitempty"`
	MetricsError    string        `json:"metricsError,omitempty"`
	DurationSeconds float64       `json:"durationSeconds"`
	Nodes           []NodeExplain `json:"nodes,omitempty"`
	// NodesOmitted counts nodes left out of Nodes (see the nodes parameter).
	NodesOmitted int `json:"nodesOmitted,omitempty"`
}

// NodeExplain is one node of a Decision.
type NodeExplain struct {
	Node    string `json:"node"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason,omitempty"`
	Score   *int64 `json:"score,omitempty"`
	// Data is live (fresh metrics sample) or fallback (requests-based), or
	// unknown for nodes not in the cache.
	Data             string   `json:"data"`
	Hot              bool     `json:"hot,omitempty"`
	UtilPercent      float64  `json:"utilPercent"`
	AllocatableMilli int64    `json:"allocatableMilli"`
	UsageMilli       int64    `json:"usageMilli"`
	EstimateMilli    int64    `json:"estimateMilli"`
	RequestedMilli   int64    `json:"requestedMilli"`
	LoadMilli        int64    `json:"loadMilli"`
	SampleAgeSeconds *float64 `json:"sampleAgeSeconds,omitempty"`
	Replicas         int32    `json:"replicas"`
	Cap              int32    `json:"cap,omitempty"`
	RuntimePods      int32    `json:"runtimePods"`
	Reservations     int32    `json:"reservations"`
}

// explainLog is a ring buffer of recent decisions. Slots keep their node
// buffers, so recording allocates nothing once the ring is warm.
type explainLog struct {
	mu    sync.Mutex
	slots []decisionSlot
	next  int
	full  bool
}

type decisionSlot struct {
	d     Decision
	evs   []nodeEval
	texts [numReasons]string
}

func newExplainLog(size int) *explainLog { return &explainLog{slots: make([]decisionSlot, size)} }

// record stores a decision. It takes *evs (the request's buffer) and gives
// the request the slot's previous buffer in exchange, so recording copies
// nothing; evs may be nil for decisions without per-node detail.
func (l *explainLog) record(d Decision, evs *[]nodeEval, texts *[numReasons]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &l.slots[l.next]
	s.d = d
	if evs != nil {
		s.evs, *evs = *evs, s.evs[:0]
	} else {
		s.evs = s.evs[:0]
	}
	if texts != nil {
		s.texts = *texts
	} else {
		s.texts = [numReasons]string{}
	}
	l.next++
	if l.next == len(l.slots) {
		l.next, l.full = 0, true
	}
}

// explainQuery selects decisions.
type explainQuery struct {
	// Pod is namespace/name ("" for all).
	Pod string
	// Node restricts each decision's nodes to one node.
	Node string
	// Limit bounds the number of decisions, MaxNodes the nodes per decision
	// (< 0: all).
	Limit, MaxNodes int
}

// decisions returns matching decisions, newest first.
func (l *explainLog) decisions(q explainQuery) []Decision {
	type picked struct {
		d     Decision
		evs   []nodeEval
		texts [numReasons]string
	}
	var ps []picked
	l.mu.Lock()
	n := l.next
	if l.full {
		n = len(l.slots)
	}
	for k := 0; k < n && len(ps) < q.Limit; k++ {
		s := &l.slots[(l.next-1-k+len(l.slots))%len(l.slots)]
		if q.Pod != "" && s.d.Pod != q.Pod {
			continue
		}
		p := picked{d: s.d, texts: s.texts}
		for i := range s.evs {
			if q.Node != "" && s.evs[i].Name != q.Node {
				continue
			}
			if q.MaxNodes >= 0 && len(p.evs) >= q.MaxNodes {
				p.d.NodesOmitted++
				continue
			}
			p.evs = append(p.evs, s.evs[i])
		}
		ps = append(ps, p)
	}
	l.mu.Unlock()
	out := make([]Decision, len(ps))
	for i, p := range ps {
		out[i] = p.d
		out[i].Nodes = make([]NodeExplain, len(p.evs))
		for j := range p.evs {
			out[i].Nodes[j] = explainNode(&p.evs[j], &p.texts)
		}
	}
	return out
}

func explainNode(ev *nodeEval, texts *[numReasons]string) NodeExplain {
	ne := NodeExplain{
		Node: ev.Name, Verdict: ev.Verdict.String(), Data: "fallback", Hot: ev.Hot,
		UtilPercent:      float64(int64(float64(ev.Util)*10000+0.5)) / 100,
		AllocatableMilli: int64(ev.AllocMilli), UsageMilli: int64(ev.UsageMilli), EstimateMilli: int64(ev.EstimateMilli),
		RequestedMilli: int64(ev.RequestedMilli), LoadMilli: int64(ev.LoadMilli),
		Replicas: ev.Replicas, Cap: ev.Cap, RuntimePods: ev.RuntimePods, Reservations: ev.Reserved,
	}
	if ev.Reason != rNone {
		ne.Reason = texts[ev.Reason]
		if ne.Reason == "" {
			ne.Reason = ev.Reason.String()
		}
	}
	if ev.Score >= 0 {
		s := int64(ev.Score)
		ne.Score = &s
	}
	switch {
	case ev.Idx < 0:
		ne.Data = "unknown"
	case ev.Live:
		ne.Data = "live"
	}
	if ev.SampleAgeMs >= 0 {
		a := ev.SampleAge().Seconds()
		ne.SampleAgeSeconds = &a
	}
	return ne
}

// ExplainResponse is the body of GET /explain.
type ExplainResponse struct {
	// Decisions are the recent decisions, newest first.
	Decisions []Decision `json:"decisions"`
	// Reservations are the current predicted placements.
	Reservations []Reservation `json:"reservations"`
	// Pools are the pools of the current snapshot with their reference shapes.
	Pools map[string]*PoolFacts `json:"pools"`
	// Snapshot is the current snapshot's generation; Nodes its node count.
	Snapshot uint64 `json:"snapshot"`
	Nodes    int    `json:"nodes"`
}

// explainHandler serves GET /explain?pod=ns/name&node=name&limit=20&nodes=100
// (nodes=-1 for every node).
func (e *Extender) explainHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := explainQuery{Pod: r.URL.Query().Get("pod"), Node: r.URL.Query().Get("node"), Limit: 20, MaxNodes: 100}
		for _, p := range []struct {
			name string
			dst  *int
			min  int
		}{{"limit", &q.Limit, 1}, {"nodes", &q.MaxNodes, -1}} {
			v := r.URL.Query().Get(p.name)
			if v == "" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < p.min {
				http.Error(w, "explain: parameter "+p.name+" must be an integer >= "+strconv.Itoa(p.min), http.StatusBadRequest)
				return
			}
			*p.dst = n
		}
		snap := e.store.load()
		resp := ExplainResponse{
			Decisions:    e.explain.decisions(q),
			Reservations: e.res.List(),
			Pools:        snap.Pools(),
			Snapshot:     snap.Generation,
			Nodes:        snap.Len(),
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(resp)
	})
}
