package extender

import (
	"strings"
	"testing"

	"github.com/hdscale/hdscale/internal/policy"
	v1 "k8s.io/api/core/v1"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	perCore := runtimePod("team", "p", policy.PerCore, "runtime", 1000, 2000)
	perNode := runtimePod("team", "p", policy.PerNode, "runtime", 3800, 4000)
	bad := perCore.DeepCopy()
	bad.Annotations[policy.AnnotationPolicy] = `{"pattern":"per-pod"}`
	conflict := perCore.DeepCopy()
	conflict.Spec.NodeSelector[policy.NodePoolKey] = "gpu"
	noSelector := perCore.DeepCopy()
	noSelector.Spec.NodeSelector = nil
	audit := perCore.DeepCopy()
	audit.Annotations[policy.AnnotationPolicy] = strings.Replace(audit.Annotations[policy.AnnotationPolicy], `"mode":"enforce"`, `"mode":"audit"`, 1)
	noRequests := perCore.DeepCopy()
	noRequests.Spec.Containers[0].Resources = v1.ResourceRequirements{}
	limitOnly := perCore.DeepCopy()
	limitOnly.Spec.Containers[0].Resources.Requests = nil
	tests := []struct {
		name         string
		pod          *v1.Pod
		kind         podKind
		msg          string
		estimate     int64
		request      int64
		wantGroupPod string
	}{
		{"plain pod passes through", plainPod("ns", "p", 100), kindPassthrough, "no hdscale.io/policy", 0, 0, ""},
		{"per-core estimate is the limit", perCore, kindRuntime, "", 2000, 1000, "team/runtime"},
		{"per-node estimate is the request", perNode, kindRuntime, "", 3800, 3800, "team/runtime"},
		{"bad annotation", bad, kindInvalid, "pattern", 0, 0, ""},
		{"selector contradicts annotation", conflict, kindInvalid, "contradicts", 0, 0, ""},
		{"no selector is fine", noSelector, kindRuntime, "", 2000, 1000, "team/runtime"},
		{"audit mode passes through", audit, kindPassthrough, "audit", 0, 0, ""},
		{"request falls back to the annotation", noRequests, kindRuntime, "", 2000, 1000, "team/runtime"},
		{"a limit without request counts as the request (API server defaulting)", limitOnly, kindRuntime, "", 2000, 2000, "team/runtime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pc, kind, msg := classify(tt.pod)
			if kind != tt.kind || (tt.msg != "" && !strings.Contains(msg, tt.msg)) || (tt.msg == "" && msg != "") {
				t.Fatalf("classify = %v %q, want %v containing %q", kind, msg, tt.kind, tt.msg)
			}
			if kind != kindRuntime {
				return
			}
			if pc.EstimateMilli != tt.estimate || pc.RequestMilli != tt.request || pc.Group.Namespace+"/"+pc.Group.Pool != tt.wantGroupPod {
				t.Errorf("pod ctx = %+v", pc)
			}
		})
	}
}
