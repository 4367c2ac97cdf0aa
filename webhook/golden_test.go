package webhook

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/yaml"

	"github.com/hdscale/hdscale/internal/policy"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current behaviour (review the diff!)")

// goldenVariant is one namespace labelling every case is admitted under.
type goldenVariant struct {
	name   string
	labels map[string]string
}

// goldenVariants: every pattern × conflict mode in enforce mode, and per-node
// in audit mode × conflict mode.
func goldenVariants() []goldenVariant {
	var vs []goldenVariant
	for _, p := range policy.Patterns {
		for _, c := range policy.ConflictModes {
			vs = append(vs, goldenVariant{name: fmt.Sprintf("%s-%s", p, c),
				labels: map[string]string{policy.LabelPattern: string(p), policy.LabelConflict: string(c)}})
		}
	}
	for _, c := range policy.ConflictModes {
		vs = append(vs, goldenVariant{name: fmt.Sprintf("audit-%s", c),
			labels: map[string]string{policy.LabelPattern: string(policy.PerNode), policy.LabelMode: string(policy.ModeAudit), policy.LabelConflict: string(c)}})
	}
	return vs
}

// golden is the expected outcome of admitting a case under a variant.
type golden struct {
	NamespaceLabels  map[string]string `json:"namespaceLabels"`
	Allowed          bool              `json:"allowed"`
	Message          string            `json:"message,omitempty"`
	Warnings         []string          `json:"warnings,omitempty"`
	AuditAnnotations map[string]string `json:"auditAnnotations,omitempty"`
	// Patch lists the JSON patch operations sorted by path (the webhook's
	// order may differ; operations on different paths commute).
	Patch []map[string]any `json:"patch,omitempty"`
	// Pod is the input with the patch applied (absent when not patched).
	Pod map[string]any `json:"pod,omitempty"`
}

func goldenFrom(tb testing.TB, labels map[string]string, resp *admissionv1.AdmissionResponse, raw []byte) golden {
	tb.Helper()
	g := golden{NamespaceLabels: labels, Allowed: resp.Allowed, Warnings: resp.Warnings, AuditAnnotations: resp.AuditAnnotations}
	if resp.Result != nil {
		g.Message = resp.Result.Message
	}
	if len(resp.Patch) > 0 {
		if err := json.Unmarshal(resp.Patch, &g.Patch); err != nil {
			tb.Fatal(err)
		}
		sort.SliceStable(g.Patch, func(i, j int) bool {
			return fmt.Sprint(g.Patch[i]["path"], g.Patch[i]["op"]) < fmt.Sprint(g.Patch[j]["path"], g.Patch[j]["op"])
		})
		if err := json.Unmarshal(applyPatch(tb, raw, resp.Patch), &g.Pod); err != nil {
			tb.Fatal(err)
		}
	}
	return g
}

func caseNames(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "cases", "*.yaml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no cases: %v", err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".yaml")
	}
	return names
}

// TestGolden admits every testdata case under every variant through the HTTP
// handler and compares the outcome with testdata/golden/<case>/<variant>.yaml.
// For every allowed response it also checks that the patch applies to the
// input and that admitting the patched pod again changes nothing.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, name := range caseNames(t) {
		for _, v := range goldenVariants() {
			t.Run(name+"/"+v.name, func(t *testing.T) {
				t.Parallel()
				raw := readCase(t, name)
				mut := testMutator(v.labels)
				resp := admitHTTP(t, mut.Admit, podRequest(raw))
				for _, w := range resp.Warnings {
					if len(w) > MaxWarningLength {
						t.Errorf("warning longer than %d: %q", MaxWarningLength, w)
					}
				}
				g := goldenFrom(t, v.labels, resp, raw)
				body, err := yaml.Marshal(g)
				if err != nil {
					t.Fatal(err)
				}
				body = append([]byte(fmt.Sprintf("# %s admitted in a namespace labelled %s (generated: go test ./webhook -run TestGolden -update)\n",
					name, labelsString(v.labels))), body...)
				path := filepath.Join("testdata", "golden", name, v.name+".yaml")
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, body, 0o644); err != nil {
						t.Fatal(err)
					}
				} else {
					want, err := os.ReadFile(path)
					if err != nil {
						t.Fatalf("%v (run with -update to create it)", err)
					}
					if !bytes.Equal(want, body) {
						t.Errorf("%s differs from the outcome (run with -update and review the diff):\n--- got\n%s", path, body)
					}
				}
				if v.labels[policy.LabelMode] == string(policy.ModeAudit) {
					for _, op := range g.Patch {
						if p, _ := op["path"].(string); p != "/metadata/annotations" && p != "/metadata/annotations/hdscale.io~1would-change" {
							t.Errorf("audit mode patches %v", op)
						}
					}
				}
				if !resp.Allowed {
					return
				}
				again := mut.Admit
				resp2 := admitHTTP(t, again, podRequest(applyPatch(t, raw, resp.Patch)))
				if !resp2.Allowed || len(resp2.Patch) > 0 {
					t.Errorf("reinvocation on the mutated pod not idempotent: allowed=%v patch=%s", resp2.Allowed, resp2.Patch)
				}
			})
		}
	}
}

func labelsString(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}
