package kube

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestCapWatch(t *testing.T) {
	t.Parallel()
	tweak := CapWatch(time.Minute, func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName=a" })
	cases := map[string]struct {
		in   metav1.ListOptions
		want *int64
	}{
		"list untouched":          {metav1.ListOptions{}, nil},
		"reflector's 7 minutes":   {metav1.ListOptions{Watch: true, TimeoutSeconds: ptr.To[int64](420)}, ptr.To[int64](60)},
		"shorter kept":            {metav1.ListOptions{Watch: true, TimeoutSeconds: ptr.To[int64](30)}, ptr.To[int64](30)},
		"watch without a timeout": {metav1.ListOptions{Watch: true}, ptr.To[int64](60)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := tc.in
			tweak(&o)
			if o.FieldSelector != "spec.nodeName=a" {
				t.Error("the wrapped tweak was not applied")
			}
			if (o.TimeoutSeconds == nil) != (tc.want == nil) || (o.TimeoutSeconds != nil && *o.TimeoutSeconds != *tc.want) {
				t.Errorf("TimeoutSeconds %v, want %v", ptr.Deref(o.TimeoutSeconds, -1), ptr.Deref(tc.want, -1))
			}
		})
	}
}
