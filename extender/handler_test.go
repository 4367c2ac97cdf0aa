package extender

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/prometheus/client_golang/prometheus/testutil"
	v1 "k8s.io/api/core/v1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

func TestHandlerBadRequests(t *testing.T) {
	t.Parallel()
	big := `{"NodeNames":["` + strings.Repeat("n", 2048) + `"]}`
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		chunked     bool
		wantCode    int
		wantReason  string // errors_total reason
		wantInBody  string
	}{
		{"GET", http.MethodGet, "/filter", "application/json", "", false, http.StatusMethodNotAllowed, errMethod, "only POST"},
		{"PUT prioritize", http.MethodPut, "/prioritize", "application/json", "{}", false, http.StatusMethodNotAllowed, errMethod, "only POST"},
		{"text/plain", http.MethodPost, "/filter", "text/plain", "{}", false, http.StatusUnsupportedMediaType, errContentType, "application/json"},
		{"no content type", http.MethodPost, "/prioritize", "", "{}", false, http.StatusUnsupportedMediaType, errContentType, "application/json"},
		{"malformed JSON", http.MethodPost, "/filter", "application/json", `{"Pod":`, false, http.StatusBadRequest, errDecode, "decoding ExtenderArgs"},
		{"not an object", http.MethodPost, "/prioritize", "application/json", `[1,2]`, false, http.StatusBadRequest, errDecode, "JSON object"},
		{"NodeNames not strings", http.MethodPost, "/filter", "application/json", `{"Pod":{},"NodeNames":[1]}`, false, http.StatusBadRequest, errDecode, "array of strings"},
		{"no pod", http.MethodPost, "/filter", "application/json", `{"NodeNames":["a"]}`, false, http.StatusBadRequest, errNoPod, "no Pod"},
		{"null body", http.MethodPost, "/prioritize", "application/json", `null`, false, http.StatusBadRequest, errNoPod, "no Pod"},
		{"oversized, declared", http.MethodPost, "/filter", "application/json", big, false, http.StatusRequestEntityTooLarge, errBodyTooLarge, "exceeds"},
		{"oversized, chunked", http.MethodPost, "/prioritize", "application/json", big, true, http.StatusRequestEntityTooLarge, errBodyTooLarge, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _, _ := newTestExtender(t, func(o *Options) { o.MaxBodyBytes = 1024 })
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.chunked {
				req.ContentLength = -1
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			e.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantInBody) {
				t.Fatalf("got %d %q, want %d containing %q", rec.Code, rec.Body, tt.wantCode, tt.wantInBody)
			}
			var r extenderv1.ExtenderFilterResult
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || r.Error == "" {
				t.Errorf("body %q is not a protocol error: %v", rec.Body, err)
			}
			if got := testutil.ToFloat64(e.m.errors.WithLabelValues(tt.wantReason)); got != 1 {
				t.Errorf("errors_total{reason=%q} = %v, want 1", tt.wantReason, got)
			}
			if tt.wantCode == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != http.MethodPost {
				t.Errorf("Allow header = %q", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestHandlerAnswers(t *testing.T) {
	t.Parallel()
	runtime := runtimePod("team", "p", policy.PerCore, "runtime", 1000, 1000)
	bad := runtime.DeepCopy()
	bad.Annotations[policy.AnnotationPolicy] = "not json"
	nodes := append(poolNodes("r", "runtime", 2), node("gpu-0", "gpu", 4000, 16*gi))
	all := []string{"r-0", "r-1", "gpu-0", "ghost"}
	tests := []struct {
		name          string
		pod           *v1.Pod
		nodeNames     []string
		wantPass      []string
		wantFailed    []string
		wantUnres     []string
		wantInReason  string
		wantScores    map[string]int64
		wantResult    string
		wantUnknownCt float64
	}{
		{
			name: "runtime pod", pod: runtime, nodeNames: all,
			wantPass: []string{"r-0", "r-1"}, wantFailed: []string{"ghost"}, wantUnres: []string{"gpu-0"}, wantInReason: "not in pool",
			wantScores: map[string]int64{"r-0": 10, "r-1": 9, "gpu-0": 0, "ghost": 0}, wantResult: resultPassed, wantUnknownCt: 2,
		},
		{
			name: "plain pod passes through", pod: plainPod("ns", "web", 100), nodeNames: all,
			wantPass: all, wantScores: map[string]int64{"r-0": 0, "r-1": 0, "gpu-0": 0, "ghost": 0}, wantResult: resultPassthrough,
		},
		{
			name: "bad annotation fails every node", pod: bad, nodeNames: all,
			wantUnres: all, wantInReason: "not valid JSON", wantScores: map[string]int64{"r-0": 0, "r-1": 0, "gpu-0": 0, "ghost": 0}, wantResult: resultInvalid,
		},
		{
			name: "empty node list", pod: runtime, nodeNames: []string{}, wantScores: map[string]int64{}, wantResult: resultEmpty,
		},
	}
	modes := []struct {
		name                     string
		filterToWinner, scoreAll bool
	}{
		{"default", true, false},
		{"classic", false, false},
		{"classic-score-all", false, true},
	}
	for _, tc := range tests {
		for _, m := range modes {
			tt := tc
			if !m.scoreAll {
				tt.wantScores = winnerOnly(tc.wantScores)
			}
			if m.filterToWinner && tc.wantResult == resultPassed {
				// /filter answers with the node /prioritize would pick.
				tt.wantPass = keys(winnerOnly(tc.wantScores))
				tt.wantResult = resultPlaced
			}
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				t.Parallel()
				e, _, _ := newTestExtender(t, func(o *Options) { o.FilterToWinner, o.ScoreAllNodes = m.filterToWinner, m.scoreAll })
				load(e, nodes, nil, nil)
				h := e.Handler()
				fr := filterVia(t, h, tt.pod, tt.nodeNames)
				if fr.Error != "" || fr.NodeNames == nil || !sameSet(*fr.NodeNames, tt.wantPass) ||
					!sameSet(keys(fr.FailedNodes), tt.wantFailed) || !sameSet(keys(fr.FailedAndUnresolvableNodes), tt.wantUnres) {
					t.Fatalf("filter = %+v (names %v)", fr, deref(fr.NodeNames))
				}
				if tt.wantInReason != "" {
					found := false
					for _, r := range fr.FailedAndUnresolvableNodes {
						found = found || strings.Contains(r, tt.wantInReason)
					}
					if !found {
						t.Errorf("no reason mentions %q: %v", tt.wantInReason, fr.FailedAndUnresolvableNodes)
					}
				}
				if got := testutil.ToFloat64(e.m.decisions.WithLabelValues(verbFilter, tt.wantResult)); got != 1 {
					t.Errorf("decisions_total{filter,%s} = %v", tt.wantResult, got)
				}
				hp := prioritizeVia(t, h, tt.pod, tt.nodeNames)
				if len(hp) != len(tt.wantScores) {
					t.Fatalf("prioritize returned %d hosts (%v), want %v", len(hp), hp, tt.wantScores)
				}
				for _, p := range hp {
					if want, ok := tt.wantScores[p.Host]; !ok || p.Score != want {
						t.Errorf("%s scored %d, want %d (listed: %v)", p.Host, p.Score, want, ok)
					}
				}
				if got := testutil.ToFloat64(e.m.errors.WithLabelValues(errUnknownNode)); got != tt.wantUnknownCt {
					t.Errorf("unknown_node errors = %v, want %v", got, tt.wantUnknownCt)
				}
			})
		}
	}
}

// winnerOnly is what /prioritize lists by default: only the node with the
// top score, when that is above 0 (ties go to the smaller name).
func winnerOnly(scores map[string]int64) map[string]int64 {
	winner, top := "", int64(0)
	for h, s := range scores {
		if s > top || (s == top && s > 0 && h < winner) {
			winner, top = h, s
		}
	}
	if winner == "" {
		return map[string]int64{}
	}
	return map[string]int64{winner: top}
}

func TestHandlerNodeListRequest(t *testing.T) {
	t.Parallel()
	e, _, _ := newTestExtender(t)
	nodes := append(poolNodes("r", "runtime", 2), node("gpu-0", "gpu", 4000, 16*gi))
	load(e, nodes, nil, nil)
	list := &v1.NodeList{}
	for _, n := range nodes {
		list.Items = append(list.Items, *n)
	}
	rec := post(t, e.Handler(), verbFilter, extenderv1.ExtenderArgs{Pod: runtimePod("team", "p", policy.PerCore, "runtime", 1000, 1000), Nodes: list})
	var fr extenderv1.ExtenderFilterResult
	if err := json.Unmarshal(rec.Body.Bytes(), &fr); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	// The default answers with the winner only, in Nodes too.
	if fr.Nodes == nil || len(fr.Nodes.Items) != 1 || fr.Nodes.Items[0].Name != "r-0" || len(fr.FailedAndUnresolvableNodes) != 1 {
		t.Errorf("a scheduler without nodeCacheCapable gets %+v", fr)
	}
	classic, _, _ := newTestExtender(t, func(o *Options) { o.FilterToWinner = false })
	load(classic, nodes, nil, nil)
	rec = post(t, classic.Handler(), verbFilter, extenderv1.ExtenderArgs{Pod: runtimePod("team", "p", policy.PerCore, "runtime", 1000, 1000), Nodes: list})
	fr = extenderv1.ExtenderFilterResult{}
	if err := json.Unmarshal(rec.Body.Bytes(), &fr); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	if fr.Nodes == nil || len(fr.Nodes.Items) != 2 || len(fr.FailedAndUnresolvableNodes) != 1 {
		t.Errorf("classic: a scheduler without nodeCacheCapable gets %+v", fr)
	}
}

// panicOnceWriter panics on its first Write, like a handler bug would.
type panicOnceWriter struct {
	*httptest.ResponseRecorder
	panicked bool
}

func (w *panicOnceWriter) Write(b []byte) (int, error) {
	if !w.panicked {
		w.panicked = true
		panic("boom")
	}
	return w.ResponseRecorder.Write(b)
}

func TestHandlerRecoversPanics(t *testing.T) {
	t.Parallel()
	e, _, _ := newTestExtender(t)
	load(e, poolNodes("r", "runtime", 1), nil, nil)
	body, _ := json.Marshal(extenderv1.ExtenderArgs{Pod: plainPod("ns", "p", 1), NodeNames: &[]string{"r-0"}})
	req := httptest.NewRequest(http.MethodPost, "/filter", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := &panicOnceWriter{ResponseRecorder: httptest.NewRecorder()}
	e.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusInternalServerError || testutil.ToFloat64(e.m.panics) != 1 {
		t.Fatalf("code %d, panics %v", w.Code, testutil.ToFloat64(e.m.panics))
	}
	// The extender keeps serving.
	if fr := filterVia(t, e.Handler(), plainPod("ns", "p", 1), []string{"r-0"}); len(*fr.NodeNames) != 1 {
		t.Errorf("after a panic: %+v", fr)
	}
}

func TestHandlerUnknownPath(t *testing.T) {
	t.Parallel()
	e, _, _ := newTestExtender(t)
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/bind", strings.NewReader("{}")))
	if rec.Code != http.StatusNotFound {
		t.Errorf("POST /bind = %d, want 404 (the extender does not bind)", rec.Code)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, c := range m {
		if c != 0 {
			return false
		}
	}
	return true
}
