package extender

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hdscale/hdscale/internal/policy"
)

func getExplain(t *testing.T, e *Extender, query string) (int, ExplainResponse) {
	t.Helper()
	rec := httptest.NewRecorder()
	e.explainHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/explain"+query, nil))
	var r ExplainResponse
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("explain body %q: %v", rec.Body, err)
		}
	}
	return rec.Code, r
}

func TestExplain(t *testing.T) {
	t.Parallel()
	// The classic exchange (filter, then prioritize picks): explain shows
	// both decisions. TestFilterToWinner covers the default.
	e, clk, _ := newTestExtender(t, func(o *Options) { o.FilterToWinner = false })
	nodes := append(poolNodes("r", "runtime", 2), node("gpu-0", "gpu", 4000, 16*gi))
	load(e, nodes, nil, []NodeSample{sample("r-0", 1000, t0.Add(-5*time.Second)), sample("r-1", 200, t0.Add(-time.Hour))})
	h := e.Handler()
	a := runtimePod("team", "a", policy.PerCore, "runtime", 1000, 1000)
	filterVia(t, h, a, []string{"r-0", "r-1", "gpu-0", "ghost"})
	prioritizeVia(t, h, a, []string{"r-0", "r-1"})
	clk.Step(time.Second)
	filterVia(t, h, plainPod("ns", "web", 100), []string{"r-0"})
	bad := runtimePod("team", "bad", policy.PerCore, "runtime", 1000, 1000)
	bad.Annotations[policy.AnnotationPolicy] = "{}"
	filterVia(t, h, bad, []string{"r-0"})

	code, r := getExplain(t, e, "")
	if code != http.StatusOK || len(r.Decisions) != 4 {
		t.Fatalf("explain = %d with %d decisions", code, len(r.Decisions))
	}
	if r.Decisions[0].Pod != "team/bad" || r.Decisions[0].Kind != "invalid" || r.Decisions[0].Message == "" {
		t.Errorf("newest decision = %+v", r.Decisions[0])
	}
	if r.Decisions[1].Kind != "passthrough" || r.Decisions[1].Result != resultPassthrough {
		t.Errorf("passthrough decision = %+v", r.Decisions[1])
	}
	if len(r.Reservations) != 1 || r.Reservations[0].Node != "r-1" || r.Pools["runtime"].Ref.CPUMilli != 4000 || r.Nodes != 3 {
		t.Errorf("reservations %+v, pools %+v", r.Reservations, r.Pools)
	}

	_, r = getExplain(t, e, "?pod=team/a")
	if len(r.Decisions) != 2 {
		t.Fatalf("pod filter: %d decisions", len(r.Decisions))
	}
	prio, filt := r.Decisions[0], r.Decisions[1]
	if prio.Verb != verbPrioritize || prio.Chosen != "r-1" || prio.Pattern != "per-core" || prio.Pool != "runtime" || prio.EstimateMilli != 1000 {
		t.Errorf("prioritize decision = %+v", prio)
	}
	if filt.Verb != verbFilter || filt.Candidates != 4 || filt.Passed != 2 || filt.Chosen != "" {
		t.Errorf("filter decision = %+v", filt)
	}
	nodesBy := map[string]NodeExplain{}
	for _, n := range filt.Nodes {
		nodesBy[n.Node] = n
	}
	r0, r1, gpu, ghost := nodesBy["r-0"], nodesBy["r-1"], nodesBy["gpu-0"], nodesBy["ghost"]
	if r0.Data != "live" || r0.UsageMilli != 1000 || r0.UtilPercent != 25 || r0.SampleAgeSeconds == nil || *r0.SampleAgeSeconds != 5 || r0.Verdict != "pass" || r0.Cap != 4 {
		t.Errorf("r-0 = %+v", r0)
	}
	if r1.Data != "fallback" || r1.LoadMilli != 0 || r1.SampleAgeSeconds == nil || *r1.SampleAgeSeconds != 3600 {
		t.Errorf("r-1 (stale) = %+v", r1)
	}
	if gpu.Verdict != "unresolvable" || gpu.Reason == "" || ghost.Verdict != "fail" || ghost.Data != "unknown" {
		t.Errorf("gpu-0 = %+v, ghost = %+v", gpu, ghost)
	}
	if s := prio.Nodes[1].Score; s == nil || *s != 10 || prio.Nodes[0].Score == nil || *prio.Nodes[0].Score != 7 {
		t.Errorf("scores in explain: %+v", prio.Nodes)
	}

	_, r = getExplain(t, e, "?pod=team/a&node=r-1&limit=1")
	if len(r.Decisions) != 1 || len(r.Decisions[0].Nodes) != 1 || r.Decisions[0].Nodes[0].Node != "r-1" {
		t.Errorf("node filter: %+v", r.Decisions)
	}
	_, r = getExplain(t, e, "?pod=team/a&nodes=1")
	if len(r.Decisions[1].Nodes) != 1 || r.Decisions[1].NodesOmitted != 3 {
		t.Errorf("nodes limit: %+v", r.Decisions[1])
	}
	for _, q := range []string{"?limit=0", "?limit=x", "?nodes=-2"} {
		if code, _ := getExplain(t, e, q); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
}

func TestExplainRingKeepsNewest(t *testing.T) {
	t.Parallel()
	e, _, _ := newTestExtender(t, func(o *Options) { o.ExplainHistory = 3 })
	load(e, poolNodes("r", "runtime", 1), nil, nil)
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		filterVia(t, e.Handler(), runtimePod("team", name, policy.PerCore, "runtime", 1000, 1000), []string{"r-0"})
	}
	_, r := getExplain(t, e, "")
	if len(r.Decisions) != 3 || r.Decisions[0].Pod != "team/e" || r.Decisions[2].Pod != "team/c" {
		var pods []string
		for _, d := range r.Decisions {
			pods = append(pods, d.Pod)
		}
		t.Errorf("ring holds %v, want e, d, c", pods)
	}
	// A recorded decision does not change when the request buffers are reused.
	if n := r.Decisions[2].Nodes; len(n) != 1 || n[0].Node != "r-0" {
		t.Errorf("recorded nodes = %+v", n)
	}
}
