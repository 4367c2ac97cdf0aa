package pool

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestNodeFrom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		node *corev1.Node
		want string
	}{
		{"usable", poolNode("n", "runtime", "4"), ""},
		{"cordoned", poolNode("n", "runtime", "4", cordoned), UnusableCordoned},
		{"not ready", poolNode("n", "runtime", "4", notReady), UnusableNotReady},
		{"no Ready condition", poolNode("n", "runtime", "4", func(n *corev1.Node) { n.Status.Conditions = nil }), UnusableNotReady},
		{"being deleted wins", poolNode("n", "runtime", "4", deleting, cordoned), UnusableDeleting},
		{"unreachable NoExecute", poolNode("n", "runtime", "4", tainted(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)), UnusableTainted},
		{"not-ready NoSchedule", poolNode("n", "runtime", "4", tainted(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule)), UnusableTainted},
		{"unschedulable NoSchedule", poolNode("n", "runtime", "4", tainted(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)), UnusableTainted},
		{"PreferNoSchedule does not count", poolNode("n", "runtime", "4", tainted(corev1.TaintNodeNotReady, corev1.TaintEffectPreferNoSchedule)), ""},
		{"other taints do not count", poolNode("n", "runtime", "4", tainted("gpu", corev1.TaintEffectNoSchedule)), ""},
		{"no CPU", poolNode("n", "runtime", "0"), UnusableNoCPU},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := NodeFrom(tt.node)
			if got.Unusable != tt.want || got.Usable() != (tt.want == "") {
				t.Errorf("Unusable = %q (usable %v), want %q", got.Unusable, got.Usable(), tt.want)
			}
			if got.Pool != "runtime" || got.Name != "n" {
				t.Errorf("facts %+v", got)
			}
		})
	}
	n := NodeFrom(poolNode("m", "", "3500m", memory("8Gi")))
	if n.Pool != "" || n.Shape != (Shape{CPUMilli: 3500, MemBytes: 8 * gi}) {
		t.Errorf("unlabelled node facts %+v", n)
	}
	if n := NodeFrom(poolNode("h", "runtime", "1e15")); n.Shape.CPUMilli != maxMilli {
		t.Errorf("huge CPU not clamped: %d", n.Shape.CPUMilli)
	}
}
