package kube

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxWatch is how long one watch request of hdscale's informers lasts at
// most before it is renewed from the last resource version it saw (no
// relist). client-go's reflectors pick 5-10 minutes; hdscale shortens that
// because a watch re-established right after an API server restart has
// been seen to stay open without delivering events (e2e
// TestFaultsUnderLoad): with a cap, such a watch is replaced within a
// minute and the events it withheld are replayed from the watch cache.
const MaxWatch = 60 * time.Second

// CapWatch returns a tweak for informer list options that caps the watch
// timeout at max; other options (and list calls) are left alone. next, if
// set, is applied first.
func CapWatch(max time.Duration, next func(*metav1.ListOptions)) func(*metav1.ListOptions) {
	limit := int64(max / time.Second)
	return func(o *metav1.ListOptions) {
		if next != nil {
			next(o)
		}
		if o.Watch || o.TimeoutSeconds != nil {
			if o.TimeoutSeconds == nil || *o.TimeoutSeconds > limit {
				o.TimeoutSeconds = &limit
			}
		}
	}
}
