package extender

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/quantityguard"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

// realArgs is an ExtenderArgs body as kube-scheduler sends it.
func realArgs(tb testing.TB, nodeNames ...string) []byte {
	tb.Helper()
	p := runtimePod("team", "runtime-0", policy.PerCore, "runtime", 1000, 1000)
	b, err := json.Marshal(extenderv1.ExtenderArgs{Pod: p, NodeNames: &nodeNames})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var decodeSeeds = []string{
	`null`, ` null `, `{}`, `[]`, `5`, `"x"`, `true`, `{`, `}`, `{"Pod":null}`, `{"Pod":{}}`, `{"pod":{"metadata":{"name":"a"}}}`,
	`{"NodeNames":null}`, `{"NodeNames":[]}`, `{"NodeNames":["a","b"]}`, `{"nodenames":["a"]}`, `{"NODENAMES":["a"]}`,
	`{"NodeNameſ":["kelvin"]}`, `{"N\u006fdeNames":["escaped-key"]}`, `{"NodeNames":["a\u0062","\u00e9t\u00e9","\ud83d\ude00"]}`,
	`{"NodeNames":["a",null,"b"]}`, `{"NodeNames":[1]}`, `{"NodeNames":"a"}`, `{"NodeNames":{}}`, `{"NodeNames":["a",]}`,
	`{"NodeNames":["a"],"NodeNames":["b","c"]}`, `{"NodeNames":["a"],"NodeNames":null}`,
	`{"Pod":{"metadata":{"name":"a","labels":{"x":"1"}}},"Pod":{"metadata":{"namespace":"b"}}}`,
	`{"Pod":5}`, `{"Pod":{"metadata":{"name":5}}}`, `{"Nodes":{"items":[{"metadata":{"name":"n1"}}]}}`, `{"Nodes":null}`,
	`{"Unknown":{"a":[1,2,{"b":null}],"c":-1.5e+10},"NodeNames":["a"]}`, `{"x":01}`, `{"x":-}`, `{"x":1.}`, `{"x":1e}`, `{"x":tru}`,
	`{"x":"\q"}`, `{"x":"\u12"}`, "{\"x\":\"a\x01\"}", "{\"NodeNames\":[\"\xff\xfe\"]}", `{"a":1}x`, `{"a":1} `, `{"a" 1}`, `{"a":1,}`,
	`{,}`, `{"a":[}`, `{"a":{"b"}}`, `{"a":[1 2]}`, "\t{\n\"NodeNames\" :\r[ \"a\" , \"b\" ] }\n",
	`{"Pod":{"metadata":{"name":"p","annotations":{"hdscale.io/policy":"{\"pattern\":\"per-core\"}"}}},"NodeNames":["r-0"]}`,
	`{"Pod":{"spec":{"containers":[{"resources":{"requests":{"cpu":"1"}}},{"name":"b","restartPolicy":"Always"}]}},"Pod":{"spec":{"containers":[{"name":"x"}]}},"Pod":{"spec":{"containers":[{},{}]}}}`,
	`{"Pod":{"spec":{"volumes":5}}}`, `{"Pod":{"spec":{"containers":[{"resources":{"requests":{"cpu":"x"}}}]}}}`,
	`{"Pod":null,"Pod":{"metadata":{"name":"n"}}}`, `{"Pod":{"metadata":{"name":"n"}},"Pod":null}`,
	`{"Pod":{"metadata":{"annotations":{"a":"1"}}},"Pod":{"metadata":{"annotations":{"b":"2"}}}}`,
	`{"Pod":{"metadata":{"uid":"u","resourceVersion":"7","labels":{"x":"y"}},"spec":{"nodeSelector":{"hdscale.io/pool":"runtime"},"overhead":{"cpu":"50m"},"initContainers":[{"restartPolicy":"Always","resources":{"requests":{"cpu":"100m"}}}]}}}`,
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
}

// checkDecodeLikeJSON fails when argsDecoder disagrees with encoding/json
// about body: same error-ness and, on success, the same value.
func checkDecodeLikeJSON(t *testing.T, body []byte, snap *Snapshot) {
	t.Helper()
	d := argsDecoder{snap: snap}
	if qerr := expensiveDecodedValue(body); qerr != nil {
		// A quantity encoding/json would spend minutes parsing, in a value
		// it decodes: the decoder must refuse the body without parsing it
		// (the reference decode is skipped for that reason). Expensive
		// strings elsewhere (NodeNames, unknown keys) are parsed by neither.
		if _, err := d.decode(body); err == nil {
			t.Fatalf("body %q: the decoder accepts it, want an error (%v)", truncate(body), qerr)
		}
		return
	}
	var want extenderv1.ExtenderArgs
	wantErr := json.Unmarshal(body, &want)
	if snap != nil {
		d.pods = &podCache{}
	}
	got, gotErr := d.decode(body)
	// The decoder reads only the Pod fields the extender uses (wirePod), so
	// it may accept a Pod whose other fields have the wrong type; anything
	// it rejects, encoding/json rejects too.
	if gotErr != nil && wantErr == nil {
		t.Fatalf("body %q: decoder error %v, encoding/json accepts it", truncate(body), gotErr)
	}
	if d.pods != nil && gotErr == nil {
		// Decoding again takes the cached Pod: the same value.
		again, err := d.decode(body)
		if err != nil || !reflect.DeepEqual(again.Pod, got.Pod) {
			t.Fatalf("body %q: second decode %v, %+v", truncate(body), err, again.Pod)
		}
		got = again
	}
	if wantErr != nil {
		if gotErr == nil && !podFieldsOnly(body) {
			t.Fatalf("body %q: encoding/json error %v, the decoder accepts it", truncate(body), wantErr)
		}
		return
	}
	if !reflect.DeepEqual(got.Pod, projectPod(want.Pod)) || !reflect.DeepEqual(got.Nodes, want.Nodes) {
		t.Fatalf("body %q: Pod/Nodes differ:\n got %+v %+v\nwant %+v %+v", truncate(body), got.Pod, got.Nodes, projectPod(want.Pod), want.Nodes)
	}
	if (got.NodeNames == nil) != (want.NodeNames == nil) || (got.NodeNames != nil && !reflect.DeepEqual(*got.NodeNames, *want.NodeNames)) {
		t.Fatalf("body %q: NodeNames differ: got %v, want %v", truncate(body), deref(got.NodeNames), deref(want.NodeNames))
	}
	if got.NodeNames != nil && len(d.idx) != len(*got.NodeNames) {
		t.Fatalf("body %q: %d indexes for %d names", truncate(body), len(d.idx), len(*got.NodeNames))
	}
	if snap != nil && got.NodeNames != nil {
		for i, n := range *got.NodeNames {
			idx, ok := snap.Lookup(n)
			if (ok && d.idx[i] != idx) || (!ok && d.idx[i] != -1) {
				t.Fatalf("body %q: name %q index %d, want %d", truncate(body), n, d.idx[i], idx)
			}
		}
	}
}

// expensiveDecodedValue returns the quantity guard's error for the first Pod
// or Nodes value of body (the values encoding/json decodes into ExtenderArgs,
// every one when a key repeats) that holds an expensive quantity. A body
// encoding/json rejects as invalid JSON has none: it validates the whole
// input before decoding anything.
func expensiveDecodedValue(body []byte) error {
	if !json.Valid(body) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil
		}
		if key, _ := tok.(string); strings.EqualFold(key, "Pod") || strings.EqualFold(key, "Nodes") {
			if err := quantityguard.Check(raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// podFieldsOnly reports whether encoding/json rejects body only because of
// Pod fields the decoder does not read: it accepts body with every Pod
// decoded as a wirePod instead.
func podFieldsOnly(body []byte) bool {
	var lenient struct {
		Pod       *wirePod
		Nodes     *v1.NodeList
		NodeNames *[]string
	}
	return json.Unmarshal(body, &lenient) == nil
}

func deref(p *[]string) any {
	if p == nil {
		return nil
	}
	return *p
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

var codecSnap = Build(Input{Nodes: []*v1.Node{node("a", "runtime", 4000, 16*gi), node("b", "runtime", 4000, 16*gi), node("r-0", "runtime", 4000, 16*gi)}})

func TestDecodeArgsMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	seeds := append([]string{string(realArgs(t, "a", "b", "unknown"))}, decodeSeeds...)
	for _, s := range seeds {
		checkDecodeLikeJSON(t, []byte(s), nil)
		checkDecodeLikeJSON(t, []byte(s), codecSnap)
	}
}

func TestDecodeArgsNeverMutatesACachedPod(t *testing.T) {
	t.Parallel()
	d := argsDecoder{pods: &podCache{}}
	first := []byte(`{"Pod":{"metadata":{"name":"a"}}}`)
	a, err := d.decode(first)
	if err != nil {
		t.Fatal(err)
	}
	cached := a.Pod
	if _, err := d.decode([]byte(`{"Pod":{"metadata":{"name":"a"}},"Pod":{"metadata":{"namespace":"x"}}}`)); err != nil {
		t.Fatal(err)
	}
	if cached.Namespace != "" {
		t.Errorf("a repeated Pod key merged into the cached, shared Pod: %+v", cached.ObjectMeta)
	}
}

// slowQuantity takes resource.ParseQuantity 19 s (found by FuzzDecodeArgs).
const slowQuantity = "1666666661666666666666666661E61666666"

func TestDecodeArgsGuardsDecodedQuantities(t *testing.T) {
	t.Parallel()
	q := `"` + slowQuantity + `"`
	why := `quantity "` + slowQuantity + `" has a decimal exponent of 61666666 (at most ±100 is accepted)`
	for _, tc := range []struct {
		name, body string
		wantErr    string // "" = accepted
	}{
		{"in the Pod", `{"Pod":{"spec":{"overhead":{"cpu":` + q + `}}},"NodeNames":["a"]}`, "decoding Pod: spec.overhead.cpu: " + why},
		{"in a repeated Pod key after a cacheable one", `{"Pod":{"metadata":{"name":"a"}},"Pod":{"spec":{"containers":[{"resources":{"limits":{"cpu":` + q + `}}}]}}}`,
			"decoding Pod: spec.containers[0].resources.limits.cpu: " + why},
		{"in Nodes", `{"Nodes":{"items":[{"status":{"capacity":{"cpu":` + q + `}}}]}}`, "decoding *v1.NodeList: items[0].status.capacity.cpu: " + why},
		{"in the Pod, invalid JSON after it (found by FuzzDecodeArgs)", `{"Pod":{"speC":{"overheAd":{"":` + q + "}}}\x85", "decoding Pod: speC.overheAd.: " + why},
		// Nothing decodes these as quantities: accepted without a check.
		{"as a node name", `{"NodeNames":["a",` + q + `]}`, ""},
		{"under an unknown key", `{"Status":{"limits":{"cpu":` + q + `}},"NodeNames":["a"]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, d := range []argsDecoder{{}, {snap: codecSnap, pods: &podCache{}}} {
				_, err := d.decode([]byte(tc.body))
				if got := fmt.Sprint(err); (tc.wantErr == "" && err != nil) || (tc.wantErr != "" && got != tc.wantErr) {
					t.Errorf("decode = %v, want %q", err, tc.wantErr)
				}
			}
			checkDecodeLikeJSON(t, []byte(tc.body), nil)
			checkDecodeLikeJSON(t, []byte(tc.body), codecSnap)
		})
	}
}

func TestDecodeArgsInternsKnownNames(t *testing.T) {
	t.Parallel()
	body := realArgs(t, "a", "zzz", "r-0")
	d := argsDecoder{snap: codecSnap}
	args, err := d.decode(body)
	if err != nil {
		t.Fatal(err)
	}
	names := *args.NodeNames
	if idx, _ := codecSnap.Lookup("a"); d.idx[0] != idx || d.idx[1] != -1 {
		t.Errorf("idx = %v", d.idx)
	}
	if unsafeData(names[0]) != unsafeData(codecSnap.Node(d.idx[0]).Name) {
		t.Error("known name not interned from the snapshot")
	}
	if args.Pod == nil || args.Pod.Annotations[policy.AnnotationPolicy] == "" {
		t.Errorf("pod not decoded: %+v", args.Pod)
	}
}

// Not parallel: AllocsPerRun needs the process to itself.
func TestDecodeKnownNamesDoesNotAllocate(t *testing.T) {
	d := argsDecoder{snap: codecSnap}
	body := []byte(`{"NodeNames":["a","b","r-0","a","b"]}`)
	_, _ = d.decode(body) // warm the buffers
	if allocs := testing.AllocsPerRun(20, func() { _, _ = d.decode(body) }); allocs > 0 {
		t.Errorf("decoding known names allocates %v times", allocs)
	}
}

func TestEncodeMatchesUpstreamTypes(t *testing.T) {
	t.Parallel()
	evs := []nodeEval{
		{Name: "pass-1", Verdict: vPass, Score: 7},
		{Name: "fail\"q", Verdict: vFail, Reason: rCap, Score: 0},
		{Name: "é", Verdict: vUnresolvable, Reason: rShape, Score: -1},
		{Name: "pass-2", Verdict: vPass, Score: 10},
	}
	text := func(ev *nodeEval) string { return "because <" + ev.Reason.String() + ">\n" }
	b, err := appendFilterResult(nil, evs, nil, text, nil, -1)
	if err != nil {
		t.Fatal(err)
	}
	var fr extenderv1.ExtenderFilterResult
	if err := json.Unmarshal(b, &fr); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	want := extenderv1.ExtenderFilterResult{
		NodeNames:                  &[]string{"pass-1", "pass-2"},
		FailedNodes:                extenderv1.FailedNodesMap{"fail\"q": "because <cap>\n"},
		FailedAndUnresolvableNodes: extenderv1.FailedNodesMap{"é": "because <shape>\n"},
	}
	if !reflect.DeepEqual(fr, want) {
		t.Errorf("filter result %s decodes to %+v, want %+v", b, fr, want)
	}
	wantHP := extenderv1.HostPriorityList{{Host: "pass-1", Score: 7}, {Host: "fail\"q", Score: 0}, {Host: "é", Score: 0}, {Host: "pass-2", Score: 10}}
	// Unknown nodes (no layout) and known nodes (precomputed prefixes).
	snap := Build(Input{Nodes: []*v1.Node{node("pass-1", "", 1, 1), node("fail\"q", "", 1, 1), node("é", "", 1, 1), node("pass-2", "", 1, 1)}})
	known := slices.Clone(evs)
	for i := range known {
		known[i].Idx, _ = snap.Lookup(known[i].Name)
	}
	for _, c := range []struct {
		evs    []nodeEval
		prefix []string
	}{{evs, nil}, {known, snap.hostPrefix}} {
		var hp extenderv1.HostPriorityList
		if err := json.Unmarshal(appendPriorities(nil, c.evs, c.prefix), &hp); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(hp, wantHP) {
			t.Errorf("priorities = %+v", hp)
		}
	}
	b, err = appendFilterResult(nil, known, snap.quoted, text, nil, -1)
	fr = extenderv1.ExtenderFilterResult{}
	if err != nil || json.Unmarshal(b, &fr) != nil || !reflect.DeepEqual(fr, want) {
		t.Errorf("filter result with precomputed names %s = %+v", b, fr)
	}
	// A NodeList request is answered with the passing nodes in Nodes too.
	list := &v1.NodeList{Items: []v1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "pass-1"}}, {ObjectMeta: metav1.ObjectMeta{Name: "fail\"q"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "é"}}, {ObjectMeta: metav1.ObjectMeta{Name: "pass-2"}}}}
	b, err = appendFilterResult(nil, evs, nil, text, list, -1)
	if err != nil {
		t.Fatal(err)
	}
	fr = extenderv1.ExtenderFilterResult{}
	if err := json.Unmarshal(b, &fr); err != nil || fr.Nodes == nil || len(fr.Nodes.Items) != 2 || fr.Nodes.Items[1].Name != "pass-2" {
		t.Errorf("NodeList answer %s: %v", b, err)
	}
	var er extenderv1.ExtenderFilterResult
	if err := json.Unmarshal(appendError(nil, "bad \"thing\""), &er); err != nil || er.Error != `bad "thing"` {
		t.Errorf("error answer: %+v %v", er, err)
	}
}

// FuzzDecodeArgs checks the request decoding path against encoding/json:
// the same inputs are accepted and decode to the same ExtenderArgs, and
// nothing panics.
func FuzzDecodeArgs(f *testing.F) {
	f.Add(realArgs(f, "a", "b", "unknown"))
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecodeLikeJSON(t, body, nil)
		checkDecodeLikeJSON(t, body, codecSnap)
	})
}
