// Package pooltest builds the nodes and DaemonSets that pool-model tests
// describe clusters with, for the tests of internal/pool and the webhook.
package pooltest

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// NodeOpt changes a node built by Node.
type NodeOpt func(*corev1.Node)

// Cordoned sets spec.unschedulable.
func Cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

// NotReady sets the Ready condition to False.
func NotReady(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }

// Deleting sets a deletion timestamp.
func Deleting(n *corev1.Node) {
	now := metav1.Now()
	n.DeletionTimestamp = &now
}

// Tainted adds a taint key:effect.
func Tainted(key string, effect corev1.TaintEffect) NodeOpt {
	return func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Effect: effect}) }
}

// WithLabel sets a label.
func WithLabel(k, v string) NodeOpt {
	return func(n *corev1.Node) { n.Labels[k] = v }
}

// Memory sets allocatable memory.
func Memory(m string) NodeOpt {
	return func(n *corev1.Node) { n.Status.Allocatable[corev1.ResourceMemory] = resource.MustParse(m) }
}

// Node is a Ready node with cpu allocatable and 16Gi of memory, labelled and
// tainted hdscale.io/pool=<pool> unless pool is "".
func Node(name, pool, cpu string, opts ...NodeOpt) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("16Gi")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
	if pool != "" {
		n.Labels[policy.NodePoolKey] = pool
		n.Spec.Taints = []corev1.Taint{{Key: policy.NodePoolKey, Value: pool, Effect: corev1.TaintEffectNoSchedule}}
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

// DaemonSet is a kube-system DaemonSet whose one container requests cpu;
// mutate (may be nil) changes its pod template.
func DaemonSet(name, cpu string, mutate func(*corev1.PodSpec)) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"}}
	ds.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "x",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}
	if mutate != nil {
		mutate(&ds.Spec.Template.Spec)
	}
	return ds
}

// TolerateAll makes a pod template tolerate every taint.
func TolerateAll(s *corev1.PodSpec) {
	s.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
}
