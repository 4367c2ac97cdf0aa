package drift_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/drift"
	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
	"github.com/hdscale/hdscale/webhook"
)

var (
	matcher = webhook.NewMatcher(webhook.DefaultConfig())
	planner = webhook.NewDriftPlanner(matcher, webhook.DefaultSchedulerName)
	pool4   = pool.Uniform(policy.DefaultPool, 3, pool.Shape{CPUMilli: 4000, MemBytes: 16 << 30}, 250)
	pool8   = pool.Uniform(policy.DefaultPool, 3, pool.Shape{CPUMilli: 8000, MemBytes: 32 << 30}, 250)
)

func labels(kv ...string) map[string]string {
	m := map[string]string{"kubernetes.io/metadata.name": "hetida"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// templatePod is a pod as a hetida designer runtime Deployment's ReplicaSet
// creates it: the runtime container and a log-shipping sidecar.
func templatePod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "hetida-designer-runtime-7d9f8b6c5-x2x9q", Namespace: "hetida",
			Labels: map[string]string{"app.kubernetes.io/name": "hetida-designer", "app.kubernetes.io/component": "runtime", "pod-template-hash": "7d9f8b6c5"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet",
				Name: "hetida-designer-runtime-7d9f8b6c5", UID: "9a1b7c3e-0000-4000-8000-00000000a11d", Controller: ptr(true)}},
		},
		Spec: corev1.PodSpec{
			SchedulerName: corev1.DefaultSchedulerName,
			Containers: []corev1.Container{
				{Name: "runtime", Image: "hetida/designer-runtime:0.9.7",
					Env: []corev1.EnvVar{{Name: "HD_IS_BACKEND_SERVICE", Value: "false"}}},
				{Name: "fluent-bit", Image: "fluent/fluent-bit:3.1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}},
			},
		},
	}
}

// admitted is the pod as hdscale admitted it in a namespace with nsLabels
// and pool p: the running pod.
func admitted(t *testing.T, nsLabels map[string]string, p *pool.Pool) *corev1.Pod {
	t.Helper()
	pod := templatePod()
	ns, _, err := policy.Parse(nsLabels)
	if err != nil {
		t.Fatal(err)
	}
	d := webhook.Plan(webhook.PlanInput{Pod: pod, Runtime: matcher.Match(pod).Containers, Policy: ns, Pool: p,
		SchedulerName: webhook.DefaultSchedulerName})
	if d.Deny != "" || !d.Modified {
		t.Fatalf("admitting the template: deny %q, modified %v", d.Deny, d.Modified)
	}
	d.Pod.Spec.NodeName = "pool-a"
	d.Pod.Status.Phase = corev1.PodRunning
	return d.Pod
}

func TestCheck(t *testing.T) {
	t.Parallel()
	perNode := labels(policy.LabelPattern, "per-node")
	perCore := labels(policy.LabelPattern, "per-core")
	cases := []struct {
		name      string
		pod       func(t *testing.T) *corev1.Pod
		nsLabels  map[string]string
		pool      *pool.Pool
		declared  int64
		want      []string // "field: now -> wouldBe"
		reasons   []drift.Reason
		notDrifed bool
	}{{
		name:     "relabelled per-node to per-core",
		pod:      func(t *testing.T) *corev1.Pod { return admitted(t, perNode, pool4) },
		nsLabels: perCore,
		pool:     pool4,
		want: []string{
			"containers[runtime].resources.cpu: request=3650m limit=4 -> request=1 limit=1",
			`containers[runtime].env[WEB_CONCURRENCY]: "4" -> 1`,
			`containers[runtime].env[MAX_WORKERS]: "4" -> 1`,
		},
		reasons: []drift.Reason{drift.ReasonLabels},
	}, {
		name:     "hdscale.io/cpu set on a per-core namespace",
		pod:      func(t *testing.T) *corev1.Pod { return admitted(t, perCore, pool4) },
		nsLabels: labels(policy.LabelPattern, "per-core", policy.LabelCPU, "2"),
		pool:     pool4,
		want:     []string{"containers[runtime].resources.cpu: request=1 limit=1 -> request=2 limit=2"},
		reasons:  []drift.Reason{drift.ReasonLabels},
	}, {
		name:     "pool resized from 4 to 8 CPU nodes",
		pod:      func(t *testing.T) *corev1.Pod { return admitted(t, perNode, pool4) },
		nsLabels: perNode,
		pool:     pool8,
		want: []string{
			"containers[runtime].resources.cpu: request=3650m limit=4 -> request=7650m limit=8",
			`containers[runtime].env[WEB_CONCURRENCY]: "4" -> 8`,
			`containers[runtime].env[MAX_WORKERS]: "4" -> 8`,
		},
		reasons: []drift.Reason{drift.ReasonPoolShape},
	}, {
		name:     "admitted unsized, the pool has nodes again",
		pod:      func(t *testing.T) *corev1.Pod { return admitted(t, perNode, nil) },
		nsLabels: perNode,
		pool:     pool4,
		want: []string{
			"containers[runtime].resources.cpu: (unset) -> request=3650m limit=4",
			"containers[runtime].env[WEB_CONCURRENCY]: (unset) -> 4",
			"containers[runtime].env[MAX_WORKERS]: (unset) -> 4",
		},
		reasons: []drift.Reason{drift.ReasonPoolShape},
	}, {
		name:     "namespace opted out",
		pod:      func(t *testing.T) *corev1.Pod { return admitted(t, perNode, pool4) },
		nsLabels: labels(),
		pool:     pool4,
		want:     []string{"namespace hdscale.io/pattern: per-node -> (unset): not managed by hdscale"},
		reasons:  []drift.Reason{drift.ReasonOptedOut},
	}, {
		name:     "relabelled to another pool of another shape",
		pod:      func(t *testing.T) *corev1.Pod { return admitted(t, perNode, pool4) },
		nsLabels: labels(policy.LabelPattern, "per-node", policy.LabelPool, "big"),
		pool:     nil,
		declared: 0,
		want: []string{
			"tolerations: (unset) -> +hdscale.io/pool=big:NoSchedule",
			"nodeSelector[hdscale.io/pool]: runtime -> big",
		},
		reasons: []drift.Reason{drift.ReasonLabels},
	}, {
		name:     "namespace labels invalid now",
		pod:      func(t *testing.T) *corev1.Pod { return admitted(t, perNode, pool4) },
		nsLabels: labels(policy.LabelPattern, "per-nod"),
		pool:     pool4,
		want:     []string{`namespace labels: valid -> denied: namespace label hdscale.io/pattern="per-nod" must be one of per-node, per-node-single, per-core`},
		reasons:  []drift.Reason{drift.ReasonLabels},
	}, {
		name:      "up to date",
		pod:       func(t *testing.T) *corev1.Pod { return admitted(t, perNode, pool4) },
		nsLabels:  perNode,
		pool:      pool4,
		notDrifed: true,
	}, {
		name:      "pool resized but the namespace is in audit mode now",
		pod:       func(t *testing.T) *corev1.Pod { return admitted(t, perNode, pool4) },
		nsLabels:  labels(policy.LabelPattern, "per-node", policy.LabelMode, "audit"),
		pool:      pool8,
		notDrifed: true,
	}, {
		name:      "not decided by hdscale",
		pod:       func(*testing.T) *corev1.Pod { return templatePod() },
		nsLabels:  perCore,
		pool:      pool4,
		notDrifed: true,
	}, {
		name: "broken annotation",
		pod: func(t *testing.T) *corev1.Pod {
			p := admitted(t, perNode, pool4)
			p.Annotations[policy.AnnotationPolicy] = `{"pattern":"per-node"`
			return p
		},
		nsLabels:  perCore,
		pool:      pool4,
		notDrifed: true,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := tc.pod(t)
			c := drift.Checker{Planner: planner, Pool: func(name string) *pool.Pool {
				if tc.pool != nil && tc.pool.Name == name {
					return tc.pool
				}
				return nil
			}, DeclaredCPU: map[string]int64{policy.DefaultPool: tc.declared}}
			d, ok := c.Check(pod, tc.nsLabels)
			if tc.notDrifed {
				if ok {
					t.Fatalf("Check = %s, want no drift", d)
				}
				return
			}
			if !ok {
				t.Fatal("Check found no drift")
			}
			if d.Pod != pod {
				t.Error("Drift.Pod is not the checked pod")
			}
			var got []string
			for _, f := range d.Fields {
				got = append(got, fmt.Sprintf("%s: %s -> %s", f.Field, f.Now, f.WouldBe))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("fields:\n got %q\nwant %q", got, tc.want)
			}
			if fmt.Sprint(d.Reasons) != fmt.Sprint(tc.reasons) {
				t.Errorf("reasons = %v, want %v", d.Reasons, tc.reasons)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
