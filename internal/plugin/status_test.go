package plugin

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/hdscale/hdscale/internal/policy"
)

func statusCluster(t *testing.T) *fakeCluster {
	perNode := map[string]string{policy.LabelPattern: "per-node"}
	p := runtimePool()
	return newFakeCluster(t, []runtime.Object{
		namespace("hetida", policy.LabelPattern, "per-node"),
		running(runtimePod(t, "hetida", "rt-a", perNode, p), "pool-a"),
		running(runtimePod(t, "hetida", "rt-b", perNode, p), "pool-b"),
		unschedulable(runtimePod(t, "hetida", "rt-c", perNode, p),
			"0/5 nodes are available: 2 hdscale: per-node replica already on the node, 3 node(s) didn't match Pod's node affinity/selector."),
	}, nodeMetrics("pool-a", "1250m", 15*time.Second), nodeMetrics("pool-b", "3900m", 42*time.Second))
}

func TestStatusTable(t *testing.T) {
	t.Parallel()
	out, errOut, code := statusCluster(t).run(t, "status")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `POOL     NODES  USABLE  MEMBERS  REFERENCE SHAPE  DAEMONSET CPU
runtime  4      3       2        4 CPU, 16Gi      250m

POOL     NODE       STATE     WHY
runtime  pool-big   outlier   8 CPU, 16Gi: not of the reference shape, gets no replicas
runtime  pool-dead  unusable  not Ready

NODE       POOL     ROLE                  ALLOCATABLE  CPU USED  CPU%  SAMPLE AGE  RUNTIME REPLICAS
pool-a     runtime  member                4            1250m     31%   15s         hetida=1
pool-b     runtime  member                4            3900m     98%   42s         hetida=1
pool-big   runtime  outlier               8            -         -     -           -
pool-dead  runtime  unusable (not Ready)  4            -         -     -           -

PENDING POD  POOL     PATTERN   AGE  REASON
hetida/rt-c  runtime  per-node  10m  0/5 nodes are available: 2 hdscale: per-node replica already on the node, 3 node(s) didn't match Pod's node affinity/selector.
`
	if out != want {
		t.Errorf("status:\n%s\nwant:\n%s", out, want)
	}
}

func TestStatusMetricsUnavailable(t *testing.T) {
	t.Parallel()
	f := statusCluster(t)
	f.metrics.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("the server is currently unable to handle the request")
	})
	out, errOut, code := f.run(t, "status", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var s Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(s.MetricsUnavailable, "unable to handle the request") {
		t.Errorf("metricsUnavailable = %q", s.MetricsUnavailable)
	}
	if len(s.Nodes) != 4 || s.Nodes[0].CPUUsage != "" || s.Nodes[0].Replicas["hetida"] != 1 {
		t.Errorf("nodes = %+v", s.Nodes)
	}
	if len(s.Pending) != 1 || s.Pending[0].Name != "rt-c" {
		t.Errorf("pending = %+v", s.Pending)
	}
	table, _, _ := f.run(t, "status")
	if !strings.Contains(table, "Live CPU unavailable (metrics.k8s.io NodeMetrics: the server is currently unable to handle the request): is metrics-server installed?\n") {
		t.Errorf("table has no metrics note:\n%s", table)
	}
}

func TestStatusNoPools(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, nil)
	if err := f.kube.Tracker().Delete(nodeGVR, "", "pool-a"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"pool-b", "pool-big", "pool-dead"} {
		if err := f.kube.Tracker().Delete(nodeGVR, "", n); err != nil {
			t.Fatal(err)
		}
	}
	out, _, code := f.run(t, "status")
	if want := "No node is labelled hdscale.io/pool=<pool>.\n\nNo Pending runtime pods.\n"; code != 0 || out != want {
		t.Errorf("exit %d, output:\n%q\nwant\n%q", code, out, want)
	}
}

var nodeGVR = corev1.SchemeGroupVersion.WithResource("nodes")
