package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/hdscale/hdscale/internal/drift"
	"github.com/hdscale/hdscale/internal/policy"
)

func replicaSet(ns, name, deployment string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: "rs-uid",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: deployment, UID: "d-uid", Controller: ptr(true)}}}}
}

func driftCluster(t *testing.T) *fakeCluster {
	perNode := map[string]string{policy.LabelPattern: "per-node"}
	p := runtimePool()
	bare := running(runtimePod(t, "lab", "rt-debug", perNode, p), "pool-b")
	bare.OwnerReferences = nil
	return newFakeCluster(t, []runtime.Object{
		// hetida went per-node -> per-core: both replicas of its Deployment drifted.
		namespace("hetida", policy.LabelPattern, "per-core"),
		running(runtimePod(t, "hetida", "rt-a", perNode, p), "pool-a"),
		running(runtimePod(t, "hetida", "rt-b", perNode, p), "pool-b"),
		replicaSet("hetida", "hetida-designer-runtime-7d9f8b6c5", "hetida-designer-runtime"),
		// lab opted out; its pod is a bare pod.
		namespace("lab"),
		bare,
		// current is up to date.
		namespace("current", policy.LabelPattern, "per-node"),
		running(runtimePod(t, "current", "rt-ok", perNode, p), "pool-a"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hdscale-webhook-config", Namespace: "hdscale-system"},
			Data: map[string]string{"webhook.yaml": "pools:\n  runtime:\n    nodeCPU: \"4\"\n"}},
	})
}

func TestDriftAllNamespaces(t *testing.T) {
	t.Parallel()
	out, errOut, code := driftCluster(t).run(t, "drift", "-A")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `NAMESPACE  POD       REASONS    FIELD                                     NOW                    WOULD BE
hetida     rt-a      labels     containers[runtime].resources.cpu         request=3750m limit=4  request=1 limit=1
                                containers[runtime].env[WEB_CONCURRENCY]  "4"                    1
                                containers[runtime].env[MAX_WORKERS]      "4"                    1
hetida     rt-b      labels     containers[runtime].resources.cpu         request=3750m limit=4  request=1 limit=1
                                containers[runtime].env[WEB_CONCURRENCY]  "4"                    1
                                containers[runtime].env[MAX_WORKERS]      "4"                    1
lab        rt-debug  opted-out  namespace hdscale.io/pattern              per-node               (unset): not managed by hdscale

To recreate them with their current decision:
  kubectl -n hetida rollout restart deployment/hetida-designer-runtime   # 2 pods
  kubectl -n lab delete pod rt-debug   # 1 pod; a bare pod: nothing recreates it; create it again from its manifest after deleting it
`
	if out != want {
		t.Errorf("drift:\n%s\nwant:\n%s", out, want)
	}
}

func TestDriftNamespaceJSON(t *testing.T) {
	t.Parallel()
	f := driftCluster(t)
	out, _, code := f.run(t, "drift", "-n", "hetida", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var rep DriftReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Namespace != "hetida" || len(rep.Pods) != 2 || len(rep.Rollouts) != 1 || rep.Rollouts[0].Pods != 2 {
		t.Fatalf("report = %+v", rep)
	}
	p := rep.Pods[0]
	if p.Name != "rt-a" || p.Pattern != "per-node" || p.Pool != "runtime" || len(p.Reasons) != 1 || p.Reasons[0] != drift.ReasonLabels ||
		p.Rollout.Kind != "Deployment" || p.Fields[0] != (drift.Field{Field: "containers[runtime].resources.cpu", Now: "request=3750m limit=4", WouldBe: "request=1 limit=1"}) {
		t.Errorf("pod = %+v", p)
	}

	out, _, code = f.run(t, "drift", "-n", "current")
	if want := "No drifted runtime pods in namespace current: each has what it would get if created now.\n"; code != 0 || out != want {
		t.Errorf("exit %d: %q", code, out)
	}
	out, _, _ = f.run(t, "drift", "--namespace=hetida", "-o", "yaml")
	if !strings.Contains(out, "command: kubectl -n hetida rollout restart deployment/hetida-designer-runtime\n") {
		t.Errorf("yaml:\n%s", out)
	}
}

func TestDriftWithoutWebhookConfig(t *testing.T) {
	t.Parallel()
	f := driftCluster(t)
	if err := f.kube.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("configmaps"), "hdscale-system", "hdscale-webhook-config"); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := f.run(t, "drift", "-n", "lab")
	if code != 0 || !strings.HasPrefix(errOut, "Warning: cannot read the webhook config ConfigMap hdscale-system/hdscale-webhook-config") ||
		!strings.Contains(out, "rt-debug") {
		t.Errorf("exit %d, stderr %q:\n%s", code, errOut, out)
	}
}
