package helm

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestChartMatchesKustomizeBase: the chart with its default values renders
// the same objects as `kustomize build manifests/`, field by field.
//
// Compared: the set of objects (apiVersion/kind/namespace/name) and every
// field of every object. Ignored: only Helm's own labels (helmLabels) in
// metadata.labels of objects and pod templates (they may never appear in a
// selector, checked by mustRender) and Helm's own annotations
// (helmAnnotations: the release namespace's resource policy) in
// metadata.annotations of objects. Two comparisons look through a string:
//   - ConfigMap data whose key ends in .yaml/.yml is compared as parsed YAML
//     (comments and layout of the embedded file may differ, its content not);
//   - a CEL `expression` is compared with runs of whitespace outside string
//     literals collapsed to one space (CEL ignores it; the text may be laid
//     out differently, its tokens not).
//
// When manifests/ changes, this test names every object and field the chart
// must follow: mirror the change into manifests/helm/hdscale/templates (or
// its values.yaml), then `go test ./manifests/helm/`.
func TestChartMatchesKustomizeBase(t *testing.T) {
	t.Parallel()
	base, err := buildBase()
	if err != nil {
		t.Fatalf("kustomize build manifests/: %v", err)
	}
	chart := mustRender(t, nil)
	diffs := diffObjects(chart.objects, base)
	if len(diffs) > 0 {
		t.Errorf("the chart (default values) and the kustomize base differ in %d places "+
			"(mirror the base into manifests/helm/hdscale):\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	if len(base) < 20 {
		t.Errorf("the base has only %d objects: is manifests/ the base?", len(base))
	}
}

// diffObjects compares chart against base: objects only in one of them, and
// every differing field of the others.
func diffObjects(chart, base objects) []string {
	var diffs []string
	for _, k := range base.keys() {
		if _, ok := chart[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: in the base, not rendered by the chart", k))
		}
	}
	for _, k := range chart.keys() {
		b, ok := base[k]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: rendered by the chart, not in the base", k))
			continue
		}
		d := differ{kind: k.Kind}
		d.compare("", withoutHelmLabels(chart[k]), withoutHelmLabels(b))
		for _, f := range d.diffs {
			diffs = append(diffs, fmt.Sprintf("%s: %s", k, f))
		}
	}
	return diffs
}

type differ struct {
	kind  string
	diffs []string
}

// absent marks a field one side does not have.
type absent struct{}

func show(v any) string {
	if _, ok := v.(absent); ok {
		return "(absent)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	s := string(b)
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

func (d *differ) report(path string, chart, base any) {
	d.diffs = append(d.diffs, fmt.Sprintf("%s\n      chart: %s\n      base:  %s", strings.TrimPrefix(path, "."), show(chart), show(base)))
}

func (d *differ) compare(path string, chart, base any) {
	switch b := base.(type) {
	case map[string]any:
		c, ok := chart.(map[string]any)
		if !ok {
			d.report(path, chart, base)
			return
		}
		keys := map[string]bool{}
		for k := range c {
			keys[k] = true
		}
		for k := range b {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := path + "." + k
			if strings.Contains(k, ".") || strings.Contains(k, "/") {
				p = path + "[" + k + "]"
			}
			cv, cok := c[k]
			bv, bok := b[k]
			switch {
			case !cok:
				d.report(p, absent{}, bv)
			case !bok:
				d.report(p, cv, absent{})
			case d.kind == "ConfigMap" && path == ".data" && (strings.HasSuffix(k, ".yaml") || strings.HasSuffix(k, ".yml")):
				d.compareEmbeddedYAML(p, cv, bv)
			case k == "expression":
				cs, cok := cv.(string)
				bs, bok := bv.(string)
				if !cok || !bok || normalizeCEL(cs) != normalizeCEL(bs) {
					d.report(p, cv, bv)
				}
			default:
				d.compare(p, cv, bv)
			}
		}
	case []any:
		c, ok := chart.([]any)
		if !ok {
			d.report(path, chart, base)
			return
		}
		switch {
		case scalars(c) && scalars(b):
			// Flags, verbs, values: one entry with both lists reads best.
			if !reflect.DeepEqual(c, b) {
				d.report(path, c, b)
			}
		case named(c) && named(b):
			d.compareNamed(path, c, b)
		default:
			for i := 0; i < max(len(c), len(b)); i++ {
				p := fmt.Sprintf("%s[%d]", path, i)
				switch {
				case i >= len(c):
					d.report(p, absent{}, b[i])
				case i >= len(b):
					d.report(p, c[i], absent{})
				default:
					d.compare(p, c[i], b[i])
				}
			}
		}
	default:
		if !reflect.DeepEqual(chart, base) {
			d.report(path, chart, base)
		}
	}
}

func scalars(l []any) bool {
	for _, v := range l {
		switch v.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}

// named: every element is a map with a distinct, non-empty name (containers,
// ports, env, volumes, webhooks, matchConditions, ...).
func named(l []any) bool {
	seen := map[string]bool{}
	for _, v := range l {
		n := str(at(v, "name"))
		if _, ok := v.(map[string]any); !ok || n == "" || seen[n] {
			return false
		}
		seen[n] = true
	}
	return len(l) > 0
}

// compareNamed matches list elements by name, then checks their order.
func (d *differ) compareNamed(path string, chart, base []any) {
	byName := map[string]any{}
	var chartOrder, baseOrder []string
	for _, v := range chart {
		byName[str(at(v, "name"))] = v
		chartOrder = append(chartOrder, str(at(v, "name")))
	}
	inBase := map[string]bool{}
	for _, v := range base {
		n := str(at(v, "name"))
		inBase[n] = true
		baseOrder = append(baseOrder, n)
		p := fmt.Sprintf("%s[name=%s]", path, n)
		if cv, ok := byName[n]; ok {
			d.compare(p, cv, v)
		} else {
			d.report(p, absent{}, v)
		}
	}
	common := func(order []string, keep func(string) bool) []string {
		var out []string
		for _, n := range order {
			if keep(n) {
				out = append(out, n)
			}
		}
		return out
	}
	for _, n := range chartOrder {
		if !inBase[n] {
			d.report(fmt.Sprintf("%s[name=%s]", path, n), byName[n], absent{})
		}
	}
	co := common(chartOrder, func(n string) bool { return inBase[n] })
	bo := common(baseOrder, func(n string) bool { _, ok := byName[n]; return ok })
	if !reflect.DeepEqual(co, bo) {
		d.report(path+" (order of names)", co, bo)
	}
}

// withoutHelmLabels returns a copy of obj without helmLabels in the
// metadata.labels of the object and of its pod template, and without
// helmAnnotations in the object's metadata.annotations (a map left empty goes
// too).
func withoutHelmLabels(obj map[string]any) map[string]any {
	var out map[string]any
	if err := roundTrip(obj, &out); err != nil {
		panic(err)
	}
	if m, ok := at(out, "metadata").(map[string]any); ok {
		if annotations, ok := m["annotations"].(map[string]any); ok {
			for a := range helmAnnotations {
				delete(annotations, a)
			}
			if len(annotations) == 0 {
				delete(m, "annotations")
			}
		}
	}
	for _, meta := range []any{at(out, "metadata"), at(out, "spec", "template", "metadata")} {
		m, ok := meta.(map[string]any)
		if !ok {
			continue
		}
		labels, ok := m["labels"].(map[string]any)
		if !ok {
			continue
		}
		for l := range helmLabels {
			delete(labels, l)
		}
		if len(labels) == 0 {
			delete(m, "labels")
		}
	}
	return out
}

func roundTrip(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// compareEmbeddedYAML compares two YAML documents held in strings.
func (d *differ) compareEmbeddedYAML(path string, chart, base any) {
	cs, cok := chart.(string)
	bs, bok := base.(string)
	if !cok || !bok {
		d.report(path, chart, base)
		return
	}
	var cv, bv any
	if err := yaml.Unmarshal([]byte(cs), &cv); err != nil {
		d.report(path+" (chart's does not parse: "+err.Error()+")", chart, base)
		return
	}
	if err := yaml.Unmarshal([]byte(bs), &bv); err != nil {
		d.report(path+" (base's does not parse: "+err.Error()+")", chart, base)
		return
	}
	d.compare(path+":", cv, bv)
}

// normalizeCEL collapses every run of whitespace outside string literals
// into one space and trims the ends.
func normalizeCEL(s string) string {
	var b strings.Builder
	var quote rune
	space := false
	escaped := false
	for _, r := range s {
		if quote != 0 {
			b.WriteRune(r)
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == quote:
				quote = 0
			}
			continue
		}
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if r == '\'' || r == '"' {
			quote = r
		}
		b.WriteRune(r)
	}
	return b.String()
}

// The comparison itself: it finds what it must and ignores only what it may.
func TestDiffObjects(t *testing.T) {
	t.Parallel()
	parse := func(s string) objects {
		o := objects{}
		if err := decodeObjects(o, "test", []byte(s)); err != nil {
			t.Fatal(err)
		}
		return o
	}
	base := parse(`
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: ns, labels: {app.kubernetes.io/part-of: hdscale}}
data:
  webhook.yaml: |
    # a comment
    runtime: {images: [a/b]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: ns}
spec:
  replicas: 2
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers: [{name: c1, image: "i:1", args: [a, b]}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: m}
webhooks:
- name: w
  matchConditions:
  - name: c
    expression: "a &&\n  b == 'x  y'"
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
items: [{name: a, v: 1}, {name: b}]
`)
	same := parse(`
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: ns, labels: {app.kubernetes.io/part-of: hdscale, helm.sh/chart: hdscale-0.1.0, app.kubernetes.io/instance: r}}
data:
  webhook.yaml: |
    runtime:
      images:
      - a/b
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: ns, labels: {app.kubernetes.io/managed-by: Helm}}
spec:
  replicas: 2
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x, app.kubernetes.io/version: "1"}}
    spec:
      containers: [{name: c1, image: "i:1", args: [a, b]}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: m}
webhooks:
- name: w
  matchConditions:
  - name: c
    expression: "a && b == 'x  y'"
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
items: [{name: a, v: 1}, {name: b}]
`)
	if diffs := diffObjects(same, base); len(diffs) > 0 {
		t.Errorf("equal objects reported as different:\n%s", strings.Join(diffs, "\n"))
	}
	other := parse(`
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: ns, labels: {app.kubernetes.io/part-of: hdscale}}
data:
  webhook.yaml: |
    runtime: {images: [a/c]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: ns}
spec:
  replicas: 3
  selector: {matchLabels: {app: x, helm.sh/chart: hdscale-0.1.0}}
  template:
    metadata: {labels: {app: x, extra: "1"}}
    spec:
      containers: [{name: c1, image: "i:2", args: [a]}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: m}
webhooks:
- name: w
  matchConditions:
  - name: c
    expression: "a && b == 'x y'"
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: ns}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
items: [{name: b}, {name: a, v: 2}, {name: c}]
`)
	got := strings.Join(diffObjects(other, base), "\n")
	for _, want := range []string{
		"ConfigMap ns/c (v1): data[webhook.yaml]:.runtime.images\n      chart: [\"a/c\"]\n      base:  [\"a/b\"]",
		"Deployment ns/d (apps/v1): spec.replicas\n      chart: 3\n      base:  2",
		"spec.selector.matchLabels[helm.sh/chart]",
		"spec.template.metadata.labels.extra",
		"spec.template.spec.containers[name=c1].image\n      chart: \"i:2\"\n      base:  \"i:1\"",
		"spec.template.spec.containers[name=c1].args\n      chart: [\"a\"]\n      base:  [\"a\",\"b\"]",
		"webhooks[name=w].matchConditions[name=c].expression",
		"Service ns/s (v1): rendered by the chart, not in the base",
		"Widget w (example.com/v1): items[name=a].v\n      chart: 2\n      base:  1",
		"Widget w (example.com/v1): items[name=c]\n      chart: {\"name\":\"c\"}\n      base:  (absent)",
		"Widget w (example.com/v1): items (order of names)\n      chart: [\"b\",\"a\"]\n      base:  [\"a\",\"b\"]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q; got:\n%s", want, got)
		}
	}
	if diffs := diffObjects(objects{}, base); len(diffs) != 4 || !strings.Contains(diffs[0], "not rendered by the chart") {
		t.Errorf("missing objects: %v", diffs)
	}
}

func TestNormalizeCEL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"  a &&\n  b  ":            "a && b",
		"x == 'a  \\'  b'\n|| y":   "x == 'a  \\'  b' || y",
		"f(\"a\\\"\n b\")\t\t&& c": "f(\"a\\\"\n b\") && c",
	} {
		if got := normalizeCEL(in); got != want {
			t.Errorf("normalizeCEL(%q) = %q, want %q", in, got, want)
		}
	}
}
