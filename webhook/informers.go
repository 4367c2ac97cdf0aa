package webhook

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/hdscale/hdscale/internal/coalesce"
	"github.com/hdscale/hdscale/internal/kube"
	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
)

// Informers keeps the webhook's facts in client-go informer caches:
// namespaces (for their labels), nodes and DaemonSets (for the pool shapes).
// Pool shapes are recomputed after node and DaemonSet events by one goroutine
// and swapped in atomically, so a request only reads a map.
type Informers struct {
	tolerance float64
	log       logr.Logger
	metrics   *Metrics
	factory   informers.SharedInformerFactory

	nsInformer, nodeInformer, dsInformer cache.SharedIndexInformer
	namespaces                           corelisters.NamespaceLister
	nodes                                corelisters.NodeLister
	daemonSets                           appslisters.DaemonSetLister

	pools   atomic.Pointer[map[string]*pool.Pool]
	dirty   coalesce.Signal
	first   chan struct{} // closed after the first snapshot once the caches synced
	ready   atomic.Bool
	started atomic.Bool
}

// NewInformers prepares the informers (nothing talks to the API server before
// Start). resync 0 disables periodic resyncs, which the webhook does not need;
// tolerance is the pool shape tolerance (pool.Summarize).
func NewInformers(client kubernetes.Interface, resync time.Duration, tolerance float64, met *Metrics, log logr.Logger) (*Informers, error) {
	if client == nil {
		return nil, errors.New("webhook: NewInformers: nil client")
	}
	if met == nil {
		var err error
		if met, err = NewMetrics(nil); err != nil {
			return nil, err
		}
	}
	i := &Informers{
		tolerance: tolerance,
		log:       log.WithName("informers"),
		metrics:   met,
		factory: informers.NewSharedInformerFactoryWithOptions(client, resync, informers.WithTransform(slim),
			informers.WithTweakListOptions(kube.CapWatch(kube.MaxWatch, nil))),
		dirty: coalesce.New(),
		first: make(chan struct{}),
	}
	i.nsInformer = i.factory.Core().V1().Namespaces().Informer()
	i.namespaces = i.factory.Core().V1().Namespaces().Lister()
	i.nodeInformer = i.factory.Core().V1().Nodes().Informer()
	i.nodes = i.factory.Core().V1().Nodes().Lister()
	i.dsInformer = i.factory.Apps().V1().DaemonSets().Informer()
	i.daemonSets = i.factory.Apps().V1().DaemonSets().Lister()

	onNode := cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { i.dirty.Mark() },
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*corev1.Node)
			n, ok2 := newObj.(*corev1.Node)
			if !ok1 || !ok2 || nodeShapeChanged(o, n) {
				i.dirty.Mark()
			}
		},
		DeleteFunc: func(any) { i.dirty.Mark() },
	}
	onDaemonSet := cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { i.dirty.Mark() },
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*appsv1.DaemonSet)
			n, ok2 := newObj.(*appsv1.DaemonSet)
			if !ok1 || !ok2 || !equality.Semantic.DeepEqual(o.Spec.Template.Spec, n.Spec.Template.Spec) {
				i.dirty.Mark()
			}
		},
		DeleteFunc: func(any) { i.dirty.Mark() },
	}
	if _, err := i.nodeInformer.AddEventHandler(onNode); err != nil {
		return nil, fmt.Errorf("watching nodes: %w", err)
	}
	if _, err := i.dsInformer.AddEventHandler(onDaemonSet); err != nil {
		return nil, fmt.Errorf("watching daemonsets: %w", err)
	}
	empty := map[string]*pool.Pool{}
	i.pools.Store(&empty)
	return i, nil
}

// slim drops what the webhook never reads from cached objects.
func slim(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	if n, ok := obj.(*corev1.Node); ok {
		n.Status.Images = nil
	}
	return obj, nil
}

// nodeShapeChanged reports whether an update can change a pool's shape.
func nodeShapeChanged(o, n *corev1.Node) bool {
	if o.Labels[policy.NodePoolKey] != n.Labels[policy.NodePoolKey] && (o.Labels[policy.NodePoolKey] != "" || n.Labels[policy.NodePoolKey] != "") {
		return true
	}
	if n.Labels[policy.NodePoolKey] == "" {
		return false // never was and is not a pool node
	}
	oq, nq := o.Status.Allocatable[corev1.ResourceCPU], n.Status.Allocatable[corev1.ResourceCPU]
	return pool.NodeFrom(o) != pool.NodeFrom(n) || oq.Cmp(nq) != 0 ||
		!maps.Equal(o.Labels, n.Labels) || !equality.Semantic.DeepEqual(o.Spec.Taints, n.Spec.Taints)
}

// Start starts the informers and the pool-shape loop (both stop when ctx
// ends) and returns once the caches synced and the first pool shapes are
// computed, or with an error when ctx ends first.
func (i *Informers) Start(ctx context.Context) error {
	if !i.started.CompareAndSwap(false, true) {
		return errors.New("webhook: informers already started")
	}
	i.factory.Start(ctx.Done())
	go i.loop(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), i.nsInformer.HasSynced, i.nodeInformer.HasSynced, i.dsInformer.HasSynced) {
		return fmt.Errorf("webhook: stopped before the informer caches synced: %w", errors.Join(ctx.Err(), i.Ready()))
	}
	i.dirty.Mark()
	select {
	case <-i.first:
	case <-ctx.Done():
		return fmt.Errorf("webhook: stopped before the first pool shapes: %w", ctx.Err())
	}
	i.ready.Store(true)
	i.log.Info("informer caches synced", "pools", len(*i.pools.Load()))
	return nil
}

// loop recomputes the pool shapes after each batch of node and DaemonSet
// events: an event arriving during a recompute marks dirty again, so the
// latest state is always picked up.
func (i *Informers) loop(ctx context.Context) {
	firstDone := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-i.dirty.C():
		}
		if !i.nodeInformer.HasSynced() || !i.dsInformer.HasSynced() {
			continue // Start marks dirty once synced
		}
		if err := i.recompute(); err != nil {
			i.log.Error(err, "computing pool shapes")
			continue
		}
		if !firstDone {
			firstDone = true
			close(i.first)
		}
	}
}

func (i *Informers) recompute() error {
	nodes, err := i.nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	dss, err := i.daemonSets.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing daemonsets: %w", err)
	}
	next := pool.Facts(nodes, dss, i.tolerance)
	prev := *i.pools.Load()
	i.pools.Store(&next)
	for name, p := range next {
		i.metrics.poolOutliers.WithLabelValues(name).Set(float64(len(p.Outliers)))
		i.metrics.poolNodes.WithLabelValues(name).Set(float64(p.Members))
		if old, ok := prev[name]; !ok || !reflect.DeepEqual(old, p) {
			i.log.Info("pool facts", "pool", name, "nodes", p.Nodes, "usable", p.Usable, "members", p.Members,
				"reference", p.Ref.String(), "reservedCPU", policy.MilliString(p.ReservedCPUMilli),
				"outliers", describeNodes(p.Outliers, 10), "unusable", describeNodes(p.Unusable, 10))
		}
	}
	for name := range prev {
		if _, ok := next[name]; !ok {
			i.metrics.poolOutliers.DeleteLabelValues(name)
			i.metrics.poolNodes.DeleteLabelValues(name)
			i.log.Info("no node is labelled for the pool any more", "pool", name)
		}
	}
	return nil
}

// Ready returns nil once the caches synced and the first pool shapes exist;
// otherwise it names the caches still syncing.
func (i *Informers) Ready() error {
	if i.ready.Load() {
		return nil
	}
	var missing []string
	for _, x := range []struct {
		name string
		inf  cache.SharedIndexInformer
	}{{"namespaces", i.nsInformer}, {"nodes", i.nodeInformer}, {"daemonsets", i.dsInformer}} {
		if !x.inf.HasSynced() {
			missing = append(missing, x.name)
		}
	}
	if len(missing) == 0 {
		return errors.New("pool shapes not computed yet")
	}
	sort.Strings(missing)
	return fmt.Errorf("informer caches not synced: %s", strings.Join(missing, ", "))
}

// Namespaces returns the cached namespaces.
func (i *Informers) Namespaces() Namespaces { return i.namespaces }

// Pool implements Pools from the latest facts.
func (i *Informers) Pool(name string) *pool.Pool { return (*i.pools.Load())[name] }

// Pools returns a copy of the latest pool facts.
func (i *Informers) Pools() map[string]*pool.Pool { return maps.Clone(*i.pools.Load()) }
