package drift_test

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/drift"
)

func TestRolloutFor(t *testing.T) {
	t.Parallel()
	owned := func(kind, name string) *corev1.Pod {
		p := templatePod()
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: "u-1", Controller: ptr(true)}}
		return p
	}
	bare := templatePod()
	bare.Name, bare.OwnerReferences = "runtime-debug", nil
	toDeployment := func(_ string, ref metav1.OwnerReference) (*metav1.OwnerReference, error) {
		if ref.Name != "hetida-designer-runtime-7d9f8b6c5" {
			return nil, errors.New("unexpected ReplicaSet " + ref.Name)
		}
		return &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "hetida-designer-runtime", Controller: ptr(true)}, nil
	}
	cases := []struct {
		name   string
		pod    *corev1.Pod
		lookup drift.OwnerLookup
		want   drift.Rollout
	}{{
		name: "Deployment", pod: templatePod(), lookup: toDeployment,
		want: drift.Rollout{Kind: "Deployment", Name: "hetida-designer-runtime",
			Command: "kubectl -n hetida rollout restart deployment/hetida-designer-runtime"},
	}, {
		name: "ReplicaSet without lookup", pod: templatePod(),
		want: drift.Rollout{Kind: "Pod", Name: "hetida-designer-runtime-7d9f8b6c5-x2x9q",
			Command: "kubectl -n hetida delete pod hetida-designer-runtime-7d9f8b6c5-x2x9q",
			Note:    "ReplicaSet hetida-designer-runtime-7d9f8b6c5 recreates it"},
	}, {
		name: "ReplicaSet whose owner cannot be read", pod: templatePod(),
		lookup: func(string, metav1.OwnerReference) (*metav1.OwnerReference, error) {
			return nil, errors.New("forbidden")
		},
		want: drift.Rollout{Kind: "Pod", Name: "hetida-designer-runtime-7d9f8b6c5-x2x9q",
			Command: "kubectl -n hetida delete pod hetida-designer-runtime-7d9f8b6c5-x2x9q",
			Note:    "ReplicaSet hetida-designer-runtime-7d9f8b6c5 recreates it (its owner is unknown: forbidden)"},
	}, {
		name: "StatefulSet", pod: owned("StatefulSet", "runtime"),
		want: drift.Rollout{Kind: "StatefulSet", Name: "runtime", Command: "kubectl -n hetida rollout restart statefulset/runtime"},
	}, {
		name: "bare pod", pod: bare, lookup: toDeployment,
		want: drift.Rollout{Kind: "Pod", Name: "runtime-debug", Command: "kubectl -n hetida delete pod runtime-debug",
			Note: "a bare pod: nothing recreates it; create it again from its manifest after deleting it"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := drift.RolloutFor(tc.pod, tc.lookup); got != tc.want {
				t.Errorf("RolloutFor =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}
