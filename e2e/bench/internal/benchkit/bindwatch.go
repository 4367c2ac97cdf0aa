package benchkit

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// BindWatch records, through a watch on pods, when each pod of a selection
// was first seen bound to a node (spec.nodeName set) and where.
type BindWatch struct {
	mu      sync.Mutex
	boundAt map[string]time.Time
	node    map[string]string
	changed chan struct{}
	stop    context.CancelFunc
}

// WatchBindings starts watching pods of namespace ns matching selector and
// returns once the watch has synced.
func WatchBindings(ctx context.Context, c *Clients, ns, selector string) (*BindWatch, error) {
	ctx, cancel := context.WithCancel(ctx)
	w := &BindWatch{
		boundAt: map[string]time.Time{},
		node:    map[string]string{},
		changed: make(chan struct{}, 1),
		stop:    cancel,
	}
	lw := &cache.ListWatch{
		ListFunc: func(o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector
			return c.Kube.CoreV1().Pods(ns).List(ctx, o)
		},
		WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return c.Kube.CoreV1().Pods(ns).Watch(ctx, o)
		},
	}
	_, ctrl := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw,
		ObjectType:    &corev1.Pod{},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { w.observe(obj) },
			UpdateFunc: func(_, obj any) { w.observe(obj) },
		},
	})
	go ctrl.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), ctrl.HasSynced) {
		cancel()
		return nil, fmt.Errorf("pod watch %s/%s did not sync", ns, selector)
	}
	return w, nil
}

func (w *BindWatch) observe(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Spec.NodeName == "" {
		return
	}
	now := time.Now()
	w.mu.Lock()
	if _, seen := w.boundAt[p.Name]; !seen {
		w.boundAt[p.Name] = now
		w.node[p.Name] = p.Spec.NodeName
	}
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// Stop ends the watch.
func (w *BindWatch) Stop() { w.stop() }

// Bound returns the number of pods seen bound so far.
func (w *BindWatch) Bound() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.boundAt)
}

// WaitBound waits until n pods are bound or the timeout passes; it returns
// the number bound.
func (w *BindWatch) WaitBound(ctx context.Context, n int, timeout time.Duration) int {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if b := w.Bound(); b >= n {
			return b
		}
		select {
		case <-w.changed:
		case <-deadline.C:
			return w.Bound()
		case <-ctx.Done():
			return w.Bound()
		}
	}
}

// Result returns when each pod was seen bound and on which node.
func (w *BindWatch) Result() (boundAt map[string]time.Time, node map[string]string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	boundAt = make(map[string]time.Time, len(w.boundAt))
	node = make(map[string]string, len(w.node))
	for k, v := range w.boundAt {
		boundAt[k] = v
	}
	for k, v := range w.node {
		node[k] = v
	}
	return boundAt, node
}
