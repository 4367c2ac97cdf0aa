package extender

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/hdscale/hdscale/internal/pool"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current behaviour (review the diff!)")

// goldenCase is one cluster state and the runtime pod to place in it
// (testdata/cases/<name>.yaml): nodes and bound pods as the API server holds
// them, NodeMetrics samples by age, and the pod as the webhook admitted it.
type goldenCase struct {
	Nodes   []v1.Node `json:"nodes"`
	Pods    []v1.Pod  `json:"pods"`
	Samples []struct {
		Node       string `json:"node"`
		UsageMilli int64  `json:"usageMilli"`
		AgeSeconds int    `json:"ageSeconds"`
	} `json:"samples"`
	Pod v1.Pod `json:"pod"`
}

// goldenNode is what the extender concluded about one node.
type goldenNode struct {
	Node     string `json:"node"`
	Verdict  string `json:"verdict"`
	Reason   string `json:"reason,omitempty"`
	Text     string `json:"text,omitempty"`
	Score    int32  `json:"score"`
	Cap      int32  `json:"cap,omitempty"`
	Replicas int32  `json:"replicas"`
	Live     bool   `json:"live"`
	Util     string `json:"util"`
}

type goldenResult struct {
	Winner string       `json:"winner"`
	Nodes  []goldenNode `json:"nodes"`
}

// TestGoldenPlacement runs filter and score for every testdata case and
// compares the outcome, node by node, with testdata/golden/<case>.yaml.
func TestGoldenPlacement(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "cases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var gc goldenCase
			if err := yaml.UnmarshalStrict(data, &gc); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			in := Input{Now: t0, ShapeTolerance: pool.DefaultShapeTolerance}
			var names []string
			for i := range gc.Nodes {
				in.Nodes = append(in.Nodes, &gc.Nodes[i])
				names = append(names, gc.Nodes[i].Name)
			}
			for i := range gc.Pods {
				in.Pods = append(in.Pods, &gc.Pods[i])
			}
			for _, s := range gc.Samples {
				in.Samples = append(in.Samples, sample(s.Node, s.UsageMilli, t0.Add(-time.Duration(s.AgeSeconds)*time.Second)))
			}
			snap := Build(in)
			c := evalCtxFor(t, snap, nil, &gc.Pod, t0, Default())
			defer c.release()
			evs := evsFor(snap, names...)
			c.filter(evs)
			win := c.score(evs)
			res := goldenResult{}
			if win >= 0 {
				res.Winner = evs[win].Name
			}
			for i := range evs {
				ev := &evs[i]
				gn := goldenNode{Node: ev.Name, Verdict: ev.Verdict.String(), Score: ev.Score, Cap: ev.Cap,
					Replicas: ev.Replicas, Live: ev.Live, Util: fmt.Sprintf("%.3f", ev.Util)}
				if ev.Reason != rNone {
					gn.Reason, gn.Text = ev.Reason.String(), c.text(ev.Reason)
				}
				res.Nodes = append(res.Nodes, gn)
			}
			body, err := yaml.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			body = append([]byte(fmt.Sprintf("# %s placed (generated: go test ./extender -run TestGoldenPlacement -update)\n", name)), body...)
			path := filepath.Join("testdata", "golden", name+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, body, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(want, body) {
				t.Errorf("%s differs from the outcome (run with -update and review the diff):\n--- got\n%s", path, body)
			}
		})
	}
}
