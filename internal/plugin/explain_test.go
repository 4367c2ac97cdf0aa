package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/hdscale/hdscale/extender"
	"github.com/hdscale/hdscale/internal/kube"
	"github.com/hdscale/hdscale/internal/policy"
)

// stubExtender answers Explain from fixed answers.
type stubExtender struct {
	answers []ExtenderAnswer
	err     error
	asked   []string
}

func (s *stubExtender) Explain(_ context.Context, pod string) ([]ExtenderAnswer, error) {
	s.asked = append(s.asked, pod)
	return s.answers, s.err
}

func explainCluster(t *testing.T) *fakeCluster {
	perNode := map[string]string{policy.LabelPattern: "per-node"}
	pending := unschedulable(runtimePod(t, "hetida", "rt-c", perNode, runtimePool()), "0/5 nodes are available")
	pending.Annotations[policy.AnnotationConflicts] = `{"kept":["containers[runtime].env[MAX_WORKERS]"]}`
	return newFakeCluster(t, []runtime.Object{
		// The namespace was relabelled since: hdscale.io/cpu added.
		namespace("hetida", policy.LabelPattern, "per-node", policy.LabelCPU, "3"),
		pending,
		&corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "rt-c.1", Namespace: "hetida"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "rt-c", Namespace: "hetida", UID: pending.UID},
			Reason:         "FailedScheduling", Count: 4, LastTimestamp: metav1.NewTime(now.Add(-30 * time.Second)),
			Message: "0/5 nodes are available: 2 hdscale: per-node replica already on the node, 3 node(s) didn't match Pod's node affinity/selector.",
		},
		&corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "rt-c.2", Namespace: "hetida"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "rt-c", Namespace: "hetida", UID: pending.UID},
			Reason:         "Scheduled", Message: "not this one",
		},
	})
}

const explainHead = `POD          PHASE    NODE
hetida/rt-c  Pending  -

Webhook decision (hdscale.io/policy):
  FIELD              VALUE
  pattern            per-node
  pool               runtime
  mode / conflict    enforce / fill
  containers sized   runtime
  cpu per container  request 3750m, limit 4
  workers            4
  podCPU             3750m
  perNode            1
  sizedFrom          pool (node CPU 4)
  scheduler          hdscale-scheduler
  labelsHash         %s (the namespace's labels changed since: now %s; see kubectl hdscale drift)

Conflicts (hdscale.io/conflicts):
  ACTION                  FIELD
  kept (the pod's value)  containers[runtime].env[MAX_WORKERS]

`

func explainWant(body string) string {
	before := policy.LabelsHash(map[string]string{policy.LabelPattern: "per-node"})
	after := policy.LabelsHash(map[string]string{policy.LabelPattern: "per-node", policy.LabelCPU: "3"})
	return strings.Replace(strings.Replace(explainHead, "%s", before, 1), "%s", after, 1) + body
}

func TestExplainWithExtender(t *testing.T) {
	t.Parallel()
	f := explainCluster(t)
	score := int64(87)
	stub := &stubExtender{answers: []ExtenderAnswer{{Source: "pod/hdscale-scheduler-6c9f-abcde", Decisions: []extender.Decision{{
		Time: now.Add(-12 * time.Second), Verb: "filter", Pod: "hetida/rt-c", Kind: "runtime", Result: "rejected_all",
		Message: "every member runs a per-node replica of hetida", Candidates: 2, Passed: 0,
		Nodes: []extender.NodeExplain{
			{Node: "pool-a", Verdict: "rejected", Reason: "per-node replica already on the node", Data: "live", UtilPercent: 31.25, Replicas: 1, Cap: 1},
			{Node: "pool-b", Verdict: "rejected", Reason: "per-node replica already on the node", Score: &score, Data: "fallback", UtilPercent: 97.5, Replicas: 1, Cap: 1},
		},
	}}}, {Source: "pod/hdscale-scheduler-6c9f-fghij"}}}
	f.extender = stub
	out, errOut, code := f.run(t, "explain", "rt-c", "-n", "hetida")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := explainWant(`Extender pod/hdscale-scheduler-6c9f-abcde filter 12s ago: rejected_all (0 of 2 nodes passed)
  every member runs a per-node replica of hetida
  NODE    VERDICT   REASON                                SCORE  DATA      UTIL%  REPLICAS
  pool-a  rejected  per-node replica already on the node  -      live      31.2   1/1
  pool-b  rejected  per-node replica already on the node  87     fallback  97.5   1/1
`)
	if out != want {
		t.Errorf("explain:\n%s\nwant:\n%s", out, want)
	}
	if len(stub.asked) != 1 || stub.asked[0] != "hetida/rt-c" {
		t.Errorf("asked the extender about %v", stub.asked)
	}
}

func schedulerPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "hdscale-system",
			Labels: map[string]string{"app.kubernetes.io/name": "hdscale", "app.kubernetes.io/component": "scheduler"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

func TestExplainProxyFailsShowsEvents(t *testing.T) {
	t.Parallel()
	f := explainCluster(t)
	if err := f.kube.Tracker().Add(schedulerPod("hdscale-scheduler-6c9f-abcde")); err != nil {
		t.Fatal(err)
	}
	var asked []string
	f.podGet = func(_ context.Context, ns, name string, port int, pathAndQuery string) ([]byte, error) {
		asked = append(asked, fmt.Sprintf("%s %s:%d%s", ns, name, port, pathAndQuery))
		return nil, &kube.StatusError{Code: 403, Path: "/explain", Body: "Forbidden: user alice may not get /explain (grant the ClusterRole hdscale-metrics-reader)"}
	}
	out, errOut, code := f.run(t, "explain", "-n", "hetida", "rt-c")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := explainWant(`Extender: could not ask it: GET /explain on pod/hdscale-scheduler-6c9f-abcde through a port-forward: GET /explain: 403 Forbidden: Forbidden: user alice may not get /explain (grant the ClusterRole hdscale-metrics-reader)
FailedScheduling events instead:
  LAST SEEN  COUNT  MESSAGE
  30s        4      0/5 nodes are available: 2 hdscale: per-node replica already on the node, 3 node(s) didn't match Pod's node affinity/selector.
`)
	if out != want {
		t.Errorf("explain:\n%s\nwant:\n%s", out, want)
	}
	if want := "hdscale-system hdscale-scheduler-6c9f-abcde:8890/explain?pod=hetida%2Frt-c"; len(asked) != 1 || asked[0] != want {
		t.Errorf("asked %q, want %q", asked, want)
	}
}

func TestExplainProxyMergesSchedulerPods(t *testing.T) {
	t.Parallel()
	f := explainCluster(t)
	for _, name := range []string{"sched-standby", "sched-leader"} {
		if err := f.kube.Tracker().Add(schedulerPod(name)); err != nil {
			t.Fatal(err)
		}
	}
	f.podGet = func(_ context.Context, _, name string, _ int, _ string) ([]byte, error) {
		resp := extender.ExplainResponse{}
		if name == "sched-leader" {
			resp.Decisions = []extender.Decision{{Time: now.Add(-time.Minute), Verb: "prioritize", Pod: "hetida/rt-c", Result: "scored", Chosen: "pool-a", Candidates: 2, Passed: 2}}
		}
		return json.Marshal(resp)
	}
	out, _, code := f.run(t, "explain", "-n", "hetida", "rt-c", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var e Explain
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Extender) != 2 || e.Extender[0].Source != "pod/sched-leader" || len(e.Extender[0].Decisions) != 1 || e.ExtenderError != "" {
		t.Errorf("extender answers = %+v", e.Extender)
	}
	if e.Decision == nil || e.Decision.Pattern != policy.PerNode || e.LabelsMatch == nil || *e.LabelsMatch {
		t.Errorf("decision = %+v, labelsMatch %v", e.Decision, e.LabelsMatch)
	}
	table, _, _ := f.run(t, "explain", "-n", "hetida", "rt-c")
	if !strings.HasSuffix(table, "Extender pod/sched-leader prioritize 60s ago: scored, chose pool-a (2 of 2 nodes passed)\n") {
		t.Errorf("table:\n%s", table)
	}
}

func TestExplainErrors(t *testing.T) {
	t.Parallel()
	f := explainCluster(t)
	f.extender = &stubExtender{}
	_, errOut, code := f.run(t, "explain", "nope", "-n", "hetida")
	if want := "error: getting pod hetida/nope: pods \"nope\" not found\n"; code != 1 || errOut != want {
		t.Errorf("exit %d, stderr %q, want %q", code, errOut, want)
	}
	_, errOut, code = f.run(t, "explain")
	if code != 2 || !strings.Contains(errOut, "give one pod name") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if err := f.kube.Tracker().Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "backend", Namespace: "hetida"}}); err != nil {
		t.Fatal(err)
	}
	out, _, code := f.run(t, "explain", "backend", "-n", "hetida")
	if code != 0 || !strings.Contains(out, "Webhook decision: none (no hdscale.io/policy annotation: hdscale did not decide this pod") ||
		!strings.Contains(out, "Extender: no decision about this pod") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
