package plugin

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsfake "k8s.io/metrics/pkg/client/clientset/versioned/fake"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
	"github.com/hdscale/hdscale/webhook"
)

// now is the fixed time of every test.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func node(name, poolName, cpu string, ready bool) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("16Gi")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}},
		},
	}
	if ready {
		n.Status.Conditions[0].Status = corev1.ConditionTrue
	}
	if poolName != "" {
		n.Labels[policy.NodePoolKey] = poolName
		n.Spec.Taints = []corev1.Taint{{Key: policy.NodePoolKey, Value: poolName, Effect: corev1.TaintEffectNoSchedule}}
	}
	return n
}

// nodes: two 4-CPU members, an 8-CPU outlier and a NotReady node in pool
// runtime, and a worker outside any pool.
func nodes() []*corev1.Node {
	return []*corev1.Node{
		node("pool-a", "runtime", "4", true),
		node("pool-b", "runtime", "4", true),
		node("pool-big", "runtime", "8", true),
		node("pool-dead", "runtime", "4", false),
		node("worker-1", "", "8", true),
	}
}

// logAgent is a DaemonSet on every node, requesting 250m.
func logAgent() *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "log-agent", Namespace: "kube-system"}}
	ds.Spec.Template.Spec = corev1.PodSpec{
		Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		Containers: []corev1.Container{{Name: "agent", Image: "fluent/fluent-bit:3.1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}}}},
	}
	return ds
}

func namespace(name string, kv ...string) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/metadata.name": name}}}
	for i := 0; i+1 < len(kv); i += 2 {
		ns.Labels[kv[i]] = kv[i+1]
	}
	return ns
}

// runtimePod is a runtime pod of Deployment hetida-designer-runtime as
// hdscale admitted it in a namespace with nsLabels and pool p.
func runtimePod(t *testing.T, ns, name string, nsLabels map[string]string, p *pool.Pool) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, UID: types.UID("uid-" + name),
			CreationTimestamp: metav1.NewTime(now.Add(-10 * time.Minute)),
			Labels:            map[string]string{"app.kubernetes.io/name": "hetida-designer", "pod-template-hash": "7d9f8b6c5"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet",
				Name: "hetida-designer-runtime-7d9f8b6c5", UID: "rs-uid", Controller: ptr(true)}},
		},
		Spec: corev1.PodSpec{
			SchedulerName: corev1.DefaultSchedulerName,
			Containers: []corev1.Container{{Name: "runtime", Image: "hetida/designer-runtime:0.9.7",
				Env: []corev1.EnvVar{{Name: "HD_IS_BACKEND_SERVICE", Value: "false"}}}},
		},
	}
	pol, _, err := policy.Parse(nsLabels)
	if err != nil {
		t.Fatal(err)
	}
	m := webhook.NewMatcher(webhook.DefaultConfig())
	d := webhook.Plan(webhook.PlanInput{Pod: pod, Runtime: m.Match(pod).Containers, Policy: pol, Pool: p, SchedulerName: webhook.DefaultSchedulerName})
	if d.Deny != "" {
		t.Fatal(d.Deny)
	}
	d.Pod.Status.Phase = corev1.PodPending
	return d.Pod
}

func running(p *corev1.Pod, node string) *corev1.Pod {
	p.Spec.NodeName = node
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
	return p
}

func unschedulable(p *corev1.Pod, msg string) *corev1.Pod {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: msg}}
	return p
}

// runtimePool is the facts of nodes() with logAgent.
func runtimePool() *pool.Pool {
	return pool.Facts(nodes(), []*appsv1.DaemonSet{logAgent()}, pool.DefaultShapeTolerance)["runtime"]
}

func nodeMetrics(name, cpu string, age time.Duration) *metricsv1beta1.NodeMetrics {
	return &metricsv1beta1.NodeMetrics{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Timestamp:  metav1.NewTime(now.Add(-age)),
		Window:     metav1.Duration{Duration: 15 * time.Second},
		Usage:      corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
	}
}

// fakeCluster is the clients of a test.
type fakeCluster struct {
	kube     *fake.Clientset
	metrics  *metricsfake.Clientset
	extender ExtenderClient
	// podGet answers the extender pods' /explain (nil: every call fails).
	podGet PodGetter
}

func newFakeCluster(t *testing.T, objs []runtime.Object, metrics ...*metricsv1beta1.NodeMetrics) *fakeCluster {
	t.Helper()
	for _, n := range nodes() {
		objs = append(objs, n)
	}
	objs = append(objs, logAgent())
	f := &fakeCluster{kube: fake.NewClientset(objs...), metrics: metricsfake.NewSimpleClientset()}
	// The fake tracker would guess the resource "nodemetricses"; the client
	// lists "nodes".
	gvr := metricsv1beta1.SchemeGroupVersion.WithResource("nodes")
	for _, m := range metrics {
		if err := f.metrics.Tracker().Create(gvr, m, ""); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// run runs the plugin with args against the fake cluster.
func (f *fakeCluster) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, Now: func() time.Time { return now }, Connect: func(o Options) (*Clients, error) {
		ext := f.extender
		if ext == nil {
			get := f.podGet
			if get == nil {
				get = func(context.Context, string, string, int, string) ([]byte, error) {
					return nil, errors.New("no extender in this fake cluster")
				}
			}
			ext = NewPodsExtender(f.kube, get, o)
		}
		return &Clients{Kube: f.kube, Metrics: f.metrics, Extender: ext, Namespace: "default"}, nil
	}}
	code = Run(context.Background(), args, env)
	return out.String(), errb.String(), code
}

func ptr[T any](v T) *T { return &v }
