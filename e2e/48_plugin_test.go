//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hdscale/hdscale/internal/drift"
	"github.com/hdscale/hdscale/internal/plugin"
	"github.com/hdscale/hdscale/internal/policy"
)

// TestPlugin runs `kubectl hdscale` (built from cmd/kubectl-hdscale, found by
// kubectl on PATH) against the e2e cluster: status, explain and drift, as
// tables and as JSON, and a namespace relabel showing up as drift (plugin and
// metric) until the workload is rolled.
func TestPlugin(t *testing.T) {
	g := group(t)
	nodes := poolNodes(t, poolName)
	bin := buildPlugin(t)

	ns := newNamespace(t, "plugin", patternLabels(policy.PerNode), nsOptions{waitGone: true})
	runWorkload(t, deploymentOf(ns, "rt", int32(len(nodes)), runtimeTemplate("rt")))
	pods := waitWorkloadReady(t, ns, "rt", len(nodes))

	g.step(t, "status: the pool, its members and the replicas per node", func(t *testing.T) {
		out := runPlugin(t, bin, "status")
		for _, want := range []string{"POOL", "MEMBERS", "REFERENCE SHAPE", poolName, ns + "=1"} {
			if !strings.Contains(out, want) {
				t.Errorf("status output lacks %q:\n%s", want, out)
			}
		}
		var st plugin.Status
		decodeJSON(t, runPlugin(t, bin, "status", "-o", "json"), &st)
		var pool *plugin.PoolStatus
		for i := range st.Pools {
			if st.Pools[i].Name == poolName {
				pool = &st.Pools[i]
			}
		}
		if pool == nil || pool.Members != 3 || pool.Usable != 3 || pool.ReferenceShape == "" {
			t.Fatalf("pool %s in status JSON: %+v", poolName, pool)
		}
		onNodes := 0
		for _, n := range st.Nodes {
			if n.Pool == poolName && n.Role == plugin.RoleMember {
				onNodes += n.Replicas[ns]
			}
		}
		if onNodes != 3 {
			t.Errorf("status counts %d replicas of %s on member nodes, want 3: %+v", onNodes, ns, st.Nodes)
		}
	})

	g.step(t, "explain: the webhook's decision and the extender's per-node reasons", func(t *testing.T) {
		name := pods[0].Name
		out := runPlugin(t, bin, "explain", name, "-n", ns)
		for _, want := range []string{"per-node", "pool", "runtime"} {
			if !strings.Contains(out, want) {
				t.Errorf("explain output lacks %q:\n%s", want, out)
			}
		}
		var ex plugin.Explain
		decodeJSON(t, runPlugin(t, bin, "explain", name, "-n", ns, "-o", "json"), &ex)
		if ex.Decision == nil || ex.Decision.Pattern != policy.PerNode || ex.Decision.SizedFrom != policy.SizedFromPool ||
			len(ex.Decision.Containers) != 1 || ex.LabelsMatch == nil || !*ex.LabelsMatch {
			t.Errorf("explain JSON decision %+v, labels match %v", ex.Decision, ex.LabelsMatch)
		}
		if len(ex.Extender) == 0 && len(ex.FailedScheduling) == 0 {
			t.Errorf("explain has neither the extender's answer nor events (extender error %q)", ex.ExtenderError)
		}
	})

	g.step(t, "drift: a pattern relabel shows up by field, with the rollout command, and in the metric", func(t *testing.T) {
		if out := runPlugin(t, bin, "drift", "-n", ns); !strings.Contains(out, "No drifted runtime pods") {
			t.Fatalf("drift before any change:\n%s", out)
		}
		if _, err := kubectl(testContext(t), nil, "label", "namespace", ns, "--overwrite", policy.LabelPattern+"="+string(policy.PerCore)); err != nil {
			t.Fatal(err)
		}
		var rep plugin.DriftReport
		waitFor(t, time.Minute, "the plugin to list 3 drifted pods", func(ctx context.Context) (bool, string, error) {
			rep = plugin.DriftReport{}
			decodeJSON(t, runPlugin(t, bin, "drift", "-n", ns, "-o", "json"), &rep)
			return len(rep.Pods) == 3, fmt.Sprintf("%d drifted", len(rep.Pods)), nil
		})
		for _, p := range rep.Pods {
			if len(p.Reasons) == 0 || p.Reasons[0] != drift.ReasonLabels || len(p.Fields) == 0 {
				t.Errorf("drifted pod %s: reasons %v fields %v", p.Name, p.Reasons, p.Fields)
			}
		}
		wantCmd := "kubectl -n " + ns + " rollout restart deployment/rt"
		if len(rep.Rollouts) != 1 || rep.Rollouts[0].Command != wantCmd || rep.Rollouts[0].Pods != 3 {
			t.Errorf("rollouts %+v, want one %q for 3 pods", rep.Rollouts, wantCmd)
		}
		out := runPlugin(t, bin, "drift", "-n", ns)
		for _, want := range []string{"labels", "containers[runtime].resources.cpu", wantCmd} {
			if !strings.Contains(out, want) {
				t.Errorf("drift table lacks %q:\n%s", want, out)
			}
		}
		series := fmt.Sprintf(`hdscale_runtime_pods_drifted{namespace=%q,reason="labels"}`, ns)
		waitFor(t, 90*time.Second, series+" = 3 on every webhook replica", func(ctx context.Context) (bool, string, error) {
			v, err := webhookMetric(ctx, series)
			return err == nil && v == 3, fmt.Sprint(v, err), nil
		})

		// Rolled, the pods get the current decision and the drift is gone.
		if _, err := kubectl(testContext(t), nil, "-n", ns, "rollout", "restart", "deployment/rt"); err != nil {
			t.Fatal(err)
		}
		waitRolledOut(t, ns, "rt", int32(len(nodes)))
		waitFor(t, time.Minute, "no drift after the rollout", func(ctx context.Context) (bool, string, error) {
			out := runPlugin(t, bin, "drift", "-n", ns)
			return strings.Contains(out, "No drifted runtime pods"), out, nil
		})
	})
}

// buildPlugin builds cmd/kubectl-hdscale into a temporary directory.
func buildPlugin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "kubectl-hdscale"), "./cmd/kubectl-hdscale")
	cmd.Dir = suite.repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}
	return dir
}

// runPlugin runs `kubectl hdscale ARGS...` with the plugin directory on PATH,
// as an admin who installed it would.
func runPlugin(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.kubectl, append([]string{"hdscale", "--kubeconfig", suite.kubecfg}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl hdscale %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decoding %T from %q: %v", v, truncate(s, 400), err)
	}
}
