package extender

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"

	"github.com/hdscale/hdscale/internal/quantityguard"
)

// The protocol's JSON, decoded and encoded without reflection on the hot
// path. A request from a nodeCacheCapable kube-scheduler is an ExtenderArgs
// with a Pod (a few KB) and NodeNames (one string per candidate node, so
// ~100 KB at 5,000 nodes); encoding/json spends most of a request's time on
// that array and allocates every name. argsDecoder scans the top-level object
// itself (validating it like encoding/json), reads NodeNames directly,
// interning each name from the snapshot's node table (no allocation for known
// nodes), and hands Pod and Nodes to encoding/json. The Pod is decoded into
// wirePod, the fields the extender reads, which is about three times faster
// than a whole v1.Pod (a pod spec's env, volumes and managed fields are
// skipped, not allocated). FuzzDecodeArgs checks the result against
// encoding/json: every body encoding/json accepts is accepted with the same
// NodeNames and Nodes and the same Pod fields (see projectPod), and every
// body rejected here is rejected by encoding/json too, except a body whose
// Pod or Nodes value holds a quantity the Kubernetes parser would spend
// minutes on: that is refused without parsing it (unmarshalGuarded).

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

var errSyntax = errors.New("request body is not valid JSON")

// argsDecoder decodes ExtenderArgs. Its buffers are reused across requests.
type argsDecoder struct {
	// snap, when set, interns node names and records their indexes in idx
	// (parallel to NodeNames; -1 for names not in snap).
	snap  *Snapshot
	names []string
	idx   []int32
	// pods, when set, reuses the Pod decoded for the previous request when
	// the bytes are the same (prioritize follows filter with the same pod).
	pods *podCache
	// kube-scheduler lists the nodes in the same order cycle after cycle
	// (prioritize gets a subset in that order). next[i] is the node that
	// followed node i in the last request decoded with layout layoutID, and
	// head the first one, so most names are found by comparing them with
	// a guess instead of hashing them.
	layoutID   uint64
	next       []int32
	head, prev int32
}

// podCache remembers the last decoded Pod and its JSON. The Pod is shared
// between requests, so the extender treats decoded Pods as read-only.
type podCache struct {
	last atomic.Pointer[cachedPod]
}

type cachedPod struct {
	raw []byte
	pod *v1.Pod
	// The pod's classification, computed once.
	once sync.Once
	pc   podCtx
	kind podKind
	msg  string
}

// classify is classify(pod), computed once for the cached pod.
func (c *podCache) classify(pod *v1.Pod) (podCtx, podKind, string) {
	if e := c.last.Load(); e != nil && e.pod == pod {
		e.once.Do(func() { e.pc, e.kind, e.msg = classify(pod) })
		return e.pc, e.kind, e.msg
	}
	return classify(pod)
}

// decode decodes a Pod object, from the cache when it is the same.
func (c *podCache) decode(raw []byte) (*v1.Pod, error) {
	if e := c.last.Load(); e != nil && bytes.Equal(e.raw, raw) {
		return e.pod, nil // these bytes passed the quantity guard before
	}
	var w wirePod
	if err := unmarshalGuarded(raw, &w); err != nil {
		return nil, fmt.Errorf("decoding Pod: %w", err)
	}
	p := w.pod()
	c.last.Store(&cachedPod{raw: bytes.Clone(raw), pod: p})
	return p, nil
}

// podState tracks the Pod keys of one request body.
type podState struct {
	// w is the Pod decoded so far, into which a repeated Pod key merges
	// (as encoding/json does); raw is the value of a first key taken from
	// the cache, replayed into w if the key repeats.
	w   *wirePod
	raw []byte
}

// pod decodes the value of a Pod key at s.
func (d *argsDecoder) pod(s *scanner, a *extenderv1.ExtenderArgs, st *podState) error {
	start := s.i
	if err := s.skip(1); err != nil {
		return err
	}
	raw := s.b[start:s.i]
	switch {
	case string(raw) == "null":
		a.Pod, st.w, st.raw = nil, nil, nil
		return nil
	case d.pods != nil && a.Pod == nil:
		p, err := d.pods.decode(raw)
		a.Pod, st.raw = p, raw
		return err
	}
	if st.w == nil {
		st.w = new(wirePod)
		if st.raw != nil {
			_ = json.Unmarshal(st.raw, st.w) // decoded without error before
		}
	}
	if err := unmarshalGuarded(raw, st.w); err != nil {
		return fmt.Errorf("decoding Pod: %w", err)
	}
	a.Pod = st.w.pod()
	return nil
}

// wirePod is the part of a Pod the extender reads (classify and decide):
// identity, annotations, nodeSelector and what the CPU request is computed
// from. JSON names are those of v1.Pod.
type wirePod struct {
	Metadata struct {
		Name            string            `json:"name"`
		Namespace       string            `json:"namespace"`
		UID             types.UID         `json:"uid"`
		ResourceVersion string            `json:"resourceVersion"`
		Annotations     map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		NodeSelector   map[string]string `json:"nodeSelector"`
		Containers     []wireContainer   `json:"containers"`
		InitContainers []wireContainer   `json:"initContainers"`
		Overhead       v1.ResourceList   `json:"overhead"`
	} `json:"spec"`
}

type wireContainer struct {
	Resources     v1.ResourceRequirements    `json:"resources"`
	RestartPolicy *v1.ContainerRestartPolicy `json:"restartPolicy"`
}

// pod returns the decoded fields as a v1.Pod (everything else empty).
func (w *wirePod) pod() *v1.Pod {
	p := &v1.Pod{}
	m := &w.Metadata
	p.Name, p.Namespace, p.UID, p.ResourceVersion, p.Annotations = m.Name, m.Namespace, m.UID, m.ResourceVersion, m.Annotations
	p.Spec.NodeSelector, p.Spec.Overhead = w.Spec.NodeSelector, w.Spec.Overhead
	p.Spec.Containers = wireContainers(w.Spec.Containers)
	p.Spec.InitContainers = wireContainers(w.Spec.InitContainers)
	return p
}

func wireContainers(wc []wireContainer) []v1.Container {
	if wc == nil {
		return nil
	}
	out := make([]v1.Container, len(wc))
	for i := range wc {
		out[i].Resources, out[i].RestartPolicy = wc[i].Resources, wc[i].RestartPolicy
	}
	return out
}

// projectPod keeps of p what wirePod decodes (a decoded Pod equals the
// projection of the Pod encoding/json decodes from the same bytes).
func projectPod(p *v1.Pod) *v1.Pod {
	if p == nil {
		return nil
	}
	var w wirePod
	w.Metadata.Name, w.Metadata.Namespace, w.Metadata.UID = p.Name, p.Namespace, p.UID
	w.Metadata.ResourceVersion, w.Metadata.Annotations = p.ResourceVersion, p.Annotations
	w.Spec.NodeSelector, w.Spec.Overhead = p.Spec.NodeSelector, p.Spec.Overhead
	project := func(cs []v1.Container) []wireContainer {
		if cs == nil {
			return nil
		}
		out := make([]wireContainer, len(cs))
		for i := range cs {
			out[i] = wireContainer{Resources: cs[i].Resources, RestartPolicy: cs[i].RestartPolicy}
		}
		return out
	}
	w.Spec.Containers, w.Spec.InitContainers = project(p.Spec.Containers), project(p.Spec.InitContainers)
	return w.pod()
}

// decode decodes body into ExtenderArgs. NodeNames, when set, points to the
// decoder's buffer: valid until the next decode.
func (d *argsDecoder) decode(body []byte) (extenderv1.ExtenderArgs, error) {
	var a extenderv1.ExtenderArgs
	d.idx = d.idx[:0]
	s := scanner{b: body}
	s.ws()
	if s.literal("null") {
		s.ws()
		if !s.eof() {
			return a, errSyntax
		}
		return a, nil
	}
	if !s.consume('{') {
		if err := s.skip(0); err != nil {
			return a, err
		}
		return a, errors.New("request body must be a JSON object (ExtenderArgs)")
	}
	s.ws()
	var st podState
	if !s.consume('}') {
		for {
			s.ws()
			key, err := s.key()
			if err != nil {
				return a, err
			}
			s.ws()
			if !s.consume(':') {
				return a, errSyntax
			}
			s.ws()
			switch {
			case fieldIs(key, "NodeNames"):
				err = d.nodeNames(&s, &a)
			case fieldIs(key, "Pod"):
				err = d.pod(&s, &a, &st)
			case fieldIs(key, "Nodes"):
				err = decodeRaw(&s, &a.Nodes)
			default:
				err = s.skip(1)
			}
			if err != nil {
				return a, err
			}
			s.ws()
			if s.consume(',') {
				continue
			}
			if s.consume('}') {
				break
			}
			return a, errSyntax
		}
	}
	s.ws()
	if !s.eof() {
		return a, errSyntax
	}
	return a, nil
}

// unmarshalGuarded decodes one Pod or Nodes value (valid JSON: the scanner
// has skipped it) with encoding/json, after refusing a quantity in it that
// the Kubernetes parser would spend minutes on (see quantityguard). Only the
// values that are decoded are checked: NodeNames (~100 KB at 5,000 nodes)
// holds no quantity, unknown keys are skipped, and a Pod from the cache
// passed the check when it was decoded.
func unmarshalGuarded(raw []byte, v any) error {
	if err := quantityguard.Check(raw); err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// fieldIs matches a key to a field name the way encoding/json does: exactly,
// else case-insensitively with Unicode simple folding.
func fieldIs(key []byte, name string) bool {
	return string(key) == name || bytes.EqualFold(key, []byte(name))
}

// decodeRaw decodes the value at s into *dst with encoding/json, keeping
// encoding/json's pointer semantics (null clears, an object merges into an
// existing value).
func decodeRaw[T any](s *scanner, dst **T) error {
	start := s.i
	if err := s.skip(1); err != nil {
		return err
	}
	raw := s.b[start:s.i]
	if string(raw) == "null" {
		*dst = nil
		return nil
	}
	if *dst == nil {
		*dst = new(T)
	}
	if err := unmarshalGuarded(raw, *dst); err != nil {
		return fmt.Errorf("decoding %T: %w", *dst, err)
	}
	return nil
}

// nodeNames reads the NodeNames array.
func (d *argsDecoder) nodeNames(s *scanner, a *extenderv1.ExtenderArgs) error {
	if s.literal("null") {
		a.NodeNames = nil
		d.idx = d.idx[:0]
		return nil
	}
	if s.peek() != '[' {
		if err := s.skip(1); err != nil {
			return err
		}
		return errors.New("NodeNames must be an array of strings")
	}
	s.i++
	names := d.names[:0]
	if names == nil {
		names = make([]string, 0, 64) // [] decodes to an empty, non-nil list
	}
	d.idx = d.idx[:0]
	d.prev = -1
	if d.snap != nil && (d.layoutID != d.snap.layout.id || len(d.next) != d.snap.Len()) {
		d.layoutID, d.head = d.snap.layout.id, -1
		d.next = slices.Grow(d.next[:0], d.snap.Len())[:d.snap.Len()]
		for i := range d.next {
			d.next[i] = -1
		}
	}
	s.ws()
	if !s.consume(']') {
		for {
			s.ws()
			switch {
			case s.peek() == '"':
				if name, idx, ok := d.guessAt(s); ok {
					names = append(names, name)
					d.idx = append(d.idx, idx)
					break
				}
				raw, plain, err := s.str()
				if err != nil {
					return err
				}
				name, idx, err := d.intern(raw, plain)
				if err != nil {
					return err
				}
				names = append(names, name)
				d.idx = append(d.idx, idx)
			case s.literal("null"): // encoding/json leaves the element empty
				names = append(names, "")
				d.idx = append(d.idx, -1)
			default:
				if err := s.skip(2); err != nil {
					return err
				}
				return errors.New("NodeNames must be an array of strings")
			}
			s.ws()
			if s.consume(',') {
				continue
			}
			if s.consume(']') {
				break
			}
			return errSyntax
		}
	}
	d.names = names
	a.NodeNames = &d.names
	return nil
}

// guessAt checks whether the string token at s is the node that followed
// the previous one last time; if so it consumes the token. Only names that
// need no escaping are guessed, so the token's bytes are the name.
func (d *argsDecoder) guessAt(s *scanner) (string, int32, bool) {
	if d.snap == nil {
		return "", -1, false
	}
	g := d.head
	if d.prev >= 0 {
		g = d.next[d.prev]
	}
	if g < 0 || !d.snap.plain[g] {
		return "", -1, false
	}
	name := d.snap.names[g]
	end := s.i + 1 + len(name)
	if end >= len(s.b) || s.b[end] != '"' || string(s.b[s.i+1:end]) != name {
		return "", -1, false
	}
	s.i = end + 1
	d.prev = g
	return name, g, true
}

// intern converts a string token's content to a string, reusing the
// snapshot's copy of known node names.
func (d *argsDecoder) intern(raw []byte, plain bool) (string, int32, error) {
	if !plain {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", -1, fmt.Errorf("decoding a node name: %w", err)
		}
		if d.snap != nil {
			if i, ok := d.snap.Lookup(v); ok {
				return d.snap.names[i], i, nil
			}
		}
		return v, -1, nil
	}
	content := raw[1 : len(raw)-1]
	if d.snap == nil {
		return string(content), -1, nil
	}
	i, ok := d.snap.lookupBytes(content)
	if !ok {
		return string(content), -1, nil
	}
	if d.prev >= 0 {
		d.next[d.prev] = i
	} else {
		d.head = i
	}
	d.prev = i
	return d.snap.names[i], i, nil
}

// scanner is a validating JSON scanner over a byte slice.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) eof() bool { return s.i >= len(s.b) }

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// plainByte marks the bytes a string may contain that need no attention:
// printable ASCII except the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str scans a string token and returns it with its quotes; plain is true
// when it has no escapes and only ASCII (its content is its value).
func (s *scanner) str() (raw []byte, plain bool, err error) {
	start := s.i
	if !s.consume('"') {
		return nil, false, errSyntax
	}
	i := s.i
	for i < len(s.b) && plainByte[s.b[i]] {
		i++
	}
	s.i = i
	if i < len(s.b) && s.b[i] == '"' { // the common case: a plain string
		s.i++
		return s.b[start:s.i], true, nil
	}
	plain = true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start:s.i], plain, nil
		case c == '\\':
			plain = false
			s.i++
			if s.i >= len(s.b) {
				return nil, false, errSyntax
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					return nil, false, errSyntax
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return nil, false, errSyntax
					}
				}
				s.i += 5
			default:
				return nil, false, errSyntax
			}
		case c < 0x20:
			return nil, false, errSyntax
		default:
			if c >= utf8.RuneSelf {
				plain = false
			}
			s.i++
		}
	}
	return nil, false, errSyntax
}

// key scans an object key and returns its value.
func (s *scanner) key() ([]byte, error) {
	raw, plain, err := s.str()
	if err != nil {
		return nil, err
	}
	if plain {
		return raw[1 : len(raw)-1], nil
	}
	var k string
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, errSyntax
	}
	return []byte(k), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skip scans and validates one value at nesting depth depth (the number of
// enclosing objects and arrays).
func (s *scanner) skip(depth int) error {
	// stack holds the open containers: '{' or '['.
	var stackBuf [32]byte
	stack := stackBuf[:0]
	for {
		// A value.
		s.ws()
		switch c := s.peek(); {
		case c == '{' || c == '[':
			if depth+len(stack)+1 > maxDepth {
				return errors.New("request body is nested too deeply")
			}
			s.i++
			stack = append(stack, c)
			s.ws()
			if c == '{' {
				if s.consume('}') {
					stack = stack[:len(stack)-1]
					break
				}
				if err := s.objectKey(); err != nil {
					return err
				}
			} else if s.consume(']') {
				stack = stack[:len(stack)-1]
				break
			}
			continue // the first member's value
		case c == '"':
			if _, _, err := s.str(); err != nil {
				return err
			}
		case c == '-' || ('0' <= c && c <= '9'):
			if err := s.number(); err != nil {
				return err
			}
		case s.literal("true"), s.literal("false"), s.literal("null"):
		default:
			return errSyntax
		}
		// After a value: close containers or move to the next member.
		for {
			if len(stack) == 0 {
				return nil
			}
			s.ws()
			top := stack[len(stack)-1]
			if s.consume(',') {
				if top == '{' {
					s.ws()
					if err := s.objectKey(); err != nil {
						return err
					}
				}
				break
			}
			if (top == '{' && s.consume('}')) || (top == '[' && s.consume(']')) {
				stack = stack[:len(stack)-1]
				continue
			}
			return errSyntax
		}
	}
}

// objectKey scans `"key" :`.
func (s *scanner) objectKey() error {
	if _, _, err := s.str(); err != nil {
		return err
	}
	s.ws()
	if !s.consume(':') {
		return errSyntax
	}
	return nil
}

// number scans a JSON number.
func (s *scanner) number() error {
	s.consume('-')
	switch {
	case s.consume('0'):
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		return errSyntax
	}
	if s.consume('.') {
		if s.digits() == 0 {
			return errSyntax
		}
	}
	if s.consume('e') || s.consume('E') {
		if !s.consume('+') {
			s.consume('-')
		}
		if s.digits() == 0 {
			return errSyntax
		}
	}
	return nil
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// appendString appends s as a JSON string.
func appendString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			b, _ := json.Marshal(s) // cannot fail for a string
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// appendName appends ev's node name as a JSON string, precomputed in
// quoted (the snapshot's layout) for known nodes.
func appendName(buf []byte, ev *nodeEval, quoted []string) []byte {
	if ev.Idx >= 0 && int(ev.Idx) < len(quoted) {
		return append(buf, quoted[ev.Idx]...)
	}
	return appendString(buf, ev.Name)
}

// appendFilterResult encodes an ExtenderFilterResult for evs. text gives
// the reason strings. nodes, when the request carried a NodeList instead of
// NodeNames, is that list: the passing nodes are returned in Nodes too.
// only >= 0 lists evs[only] as the one passing node (filter to the winner:
// the other passing nodes are left out of the answer, in neither failure
// map); only < 0 lists every passing node.
func appendFilterResult(buf []byte, evs []nodeEval, quoted []string, text func(*nodeEval) string, nodes *v1.NodeList, only int) ([]byte, error) {
	listed := func(i int) bool { return evs[i].Verdict == vPass && (only < 0 || i == only) }
	buf = append(buf, `{"Nodes":`...)
	if nodes == nil {
		buf = append(buf, "null"...)
	} else {
		out := v1.NodeList{TypeMeta: nodes.TypeMeta, ListMeta: nodes.ListMeta}
		for i := range evs {
			if listed(i) && i < len(nodes.Items) {
				out.Items = append(out.Items, nodes.Items[i])
			}
		}
		b, err := json.Marshal(&out)
		if err != nil {
			return buf, fmt.Errorf("encoding nodes: %w", err)
		}
		buf = append(buf, b...)
	}
	buf = append(buf, `,"NodeNames":[`...)
	first := true
	for i := range evs {
		if listed(i) {
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = appendName(buf, &evs[i], quoted)
		}
	}
	buf = append(buf, ']')
	for _, m := range []struct {
		key string
		v   verdict
	}{{`,"FailedNodes":{`, vFail}, {`,"FailedAndUnresolvableNodes":{`, vUnresolvable}} {
		buf = append(buf, m.key...)
		first = true
		for i := range evs {
			if evs[i].Verdict == m.v {
				if !first {
					buf = append(buf, ',')
				}
				first = false
				buf = appendName(buf, &evs[i], quoted)
				buf = append(buf, ':')
				buf = appendString(buf, text(&evs[i]))
			}
		}
		buf = append(buf, '}')
	}
	return append(buf, `,"Error":""}`...), nil
}

// appendPriorities encodes a HostPriorityList for evs; hostPrefix holds
// the snapshot layout's precomputed `{"Host":"<name>","Score":` per node.
func appendPriorities(buf []byte, evs []nodeEval, hostPrefix []string) []byte {
	buf = append(buf, '[')
	for i := range evs {
		if i > 0 {
			buf = append(buf, ',')
		}
		ev := &evs[i]
		if ev.Idx >= 0 && int(ev.Idx) < len(hostPrefix) {
			buf = append(buf, hostPrefix[ev.Idx]...)
		} else {
			buf = append(buf, `{"Host":`...)
			buf = appendString(buf, ev.Name)
			buf = append(buf, `,"Score":`...)
		}
		if sc := max(ev.Score, 0); sc < 10 {
			buf = append(buf, byte('0'+sc))
		} else {
			buf = strconv.AppendInt(buf, int64(sc), 10)
		}
		buf = append(buf, '}')
	}
	return append(buf, ']')
}

// appendError encodes a protocol error ({"Error": msg}; a valid
// ExtenderFilterResult).
func appendError(buf []byte, msg string) []byte {
	buf = append(buf, `{"Error":`...)
	buf = appendString(buf, msg)
	return append(buf, '}')
}
