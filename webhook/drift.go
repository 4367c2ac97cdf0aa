package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/hdscale/hdscale/internal/coalesce"
	"github.com/hdscale/hdscale/internal/drift"
	"github.com/hdscale/hdscale/internal/kube"
	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
)

// driftPlanner is drift.Planner over Plan: the one rule, applied to a running
// pod (which carries its own earlier decision, so Plan's Changes are what a
// pod created again now would get differently).
type driftPlanner struct {
	matcher       *Matcher
	schedulerName string
}

// NewDriftPlanner returns the drift.Planner of the webhook with matcher and
// schedulerName (--scheduler-name).
func NewDriftPlanner(matcher *Matcher, schedulerName string) drift.Planner {
	return driftPlanner{matcher: matcher, schedulerName: schedulerName}
}

// Replan implements drift.Planner.
func (p driftPlanner) Replan(pod *corev1.Pod, ns policy.Namespace, pl *pool.Pool, declaredCPUMilli int64) drift.Outcome {
	m := p.matcher.Match(pod)
	if !m.Runtime {
		return drift.Outcome{}
	}
	d := Plan(PlanInput{Pod: pod, Runtime: m.Containers, Policy: ns, Pool: pl,
		DeclaredCPUMilli: declaredCPUMilli, SchedulerName: p.schedulerName})
	out := drift.Outcome{Runtime: true, NodeCPUMilli: d.Sizing.NodeCPUMilli, Deny: d.Deny}
	if len(d.Changes) == 0 {
		return out
	}
	// The pod's current values, from the same field rules Plan applied.
	now := map[string]string{}
	for _, r := range buildRules(pod, m.Containers, ns, d.Sizing, d.Annotation.Scheduler, parsePrevious(pod)) {
		if r.status == fieldConflict && r.have != "" {
			now[r.field] = r.have
		}
	}
	for _, c := range d.Changes {
		v, ok := now[c.Field]
		if !ok {
			v = drift.Unset
		}
		out.Fields = append(out.Fields, drift.Field{Field: c.Field, Now: v, WouldBe: c.To})
	}
	return out
}

// DriftInterval is how often the DriftTracker recomputes its gauges.
const DriftInterval = 30 * time.Second

// DriftTracker keeps the gauges hdscale_runtime_pods{namespace} and
// hdscale_runtime_pods_drifted{namespace,reason}: the runtime pods hdscale
// placed (spec.schedulerName is the hdscale scheduler, hdscale.io/policy set)
// and those that would get other values if created again now (internal/drift).
// It caches only those pods (a server-side field selector) and recomputes
// every DriftInterval and after pod events; series that drop to zero are
// deleted.
type DriftTracker struct {
	factory       informers.SharedInformerFactory
	podInformer   cache.SharedIndexInformer
	pods          corelisters.PodLister
	namespaces    Namespaces
	schedulerName string
	checker       drift.Checker
	clk           clock.Clock
	log           logr.Logger

	runtimePods *prometheus.GaugeVec
	drifted     *prometheus.GaugeVec

	dirty   coalesce.Signal
	started atomic.Bool

	mu      sync.Mutex
	last    []drift.Drift
	podKeys map[string]bool    // namespaces with a runtime_pods series
	reasons map[[2]string]bool // (namespace, reason) with a drifted series
}

// NewDriftTracker prepares the tracker (nothing talks to the API server before
// Start). namespaces is the webhook's namespace cache, pools its pool facts
// (Informers.Pool), declared Config.DeclaredCPU; reg may be nil (not
// registered).
func NewDriftTracker(client kubernetes.Interface, schedulerName string, namespaces Namespaces, pools func(string) *pool.Pool,
	declared map[string]int64, matcher *Matcher, reg prometheus.Registerer, clk clock.Clock, log logr.Logger) (*DriftTracker, error) {
	switch {
	case client == nil:
		return nil, errors.New("webhook: NewDriftTracker: nil client")
	case namespaces == nil || pools == nil || matcher == nil:
		return nil, errors.New("webhook: NewDriftTracker: namespaces, pools and matcher are required")
	case schedulerName == "":
		return nil, errors.New("webhook: NewDriftTracker: empty scheduler name")
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	selector := fields.OneTermEqualSelector("spec.schedulerName", schedulerName).String()
	t := &DriftTracker{
		factory: informers.NewSharedInformerFactoryWithOptions(client, 0,
			informers.WithTweakListOptions(kube.CapWatch(kube.MaxWatch, func(o *metav1.ListOptions) { o.FieldSelector = selector })),
			informers.WithTransform(slim)),
		namespaces:    namespaces,
		schedulerName: schedulerName,
		checker:       drift.Checker{Planner: NewDriftPlanner(matcher, schedulerName), Pool: pools, DeclaredCPU: declared},
		clk:           clk,
		log:           log.WithName("drift"),
		runtimePods: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hdscale_runtime_pods",
			Help: "Runtime pods placed by hdscale (hdscale.io/policy set, scheduled by the hdscale scheduler), by namespace.",
		}, []string{"namespace"}),
		drifted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hdscale_runtime_pods_drifted",
			Help: "Runtime pods that would get other values if created again now, by namespace and reason " +
				"(labels, pool-shape, opted-out, sizing; a pod may count under several reasons). kubectl hdscale drift lists them.",
		}, []string{"namespace", "reason"}),
		dirty:   coalesce.New(),
		podKeys: map[string]bool{},
		reasons: map[[2]string]bool{},
	}
	t.podInformer = t.factory.Core().V1().Pods().Informer()
	t.pods = t.factory.Core().V1().Pods().Lister()
	mark := func(any) { t.dirty.Mark() }
	if _, err := t.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: mark, UpdateFunc: func(_, n any) { mark(n) }, DeleteFunc: mark,
	}); err != nil {
		return nil, fmt.Errorf("watching runtime pods: %w", err)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{t.runtimePods, t.drifted} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("registering drift metrics: %w", err)
			}
		}
	}
	return t, nil
}

// Start starts the pod informer and the recompute loop (both stop when ctx
// ends) and returns once the cache synced and the gauges were first computed.
func (t *DriftTracker) Start(ctx context.Context) error {
	if !t.started.CompareAndSwap(false, true) {
		return errors.New("webhook: drift tracker already started")
	}
	t.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), t.podInformer.HasSynced) {
		return fmt.Errorf("webhook: stopped before the runtime pod cache synced: %w", ctx.Err())
	}
	if err := t.Recompute(); err != nil {
		return err
	}
	go t.loop(ctx)
	return nil
}

// loop recomputes every DriftInterval and after each batch of pod events.
func (t *DriftTracker) loop(ctx context.Context) {
	timer := t.clk.NewTimer(DriftInterval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
			timer.Reset(DriftInterval)
		case <-t.dirty.C():
		}
		if err := t.Recompute(); err != nil {
			t.log.Error(err, "computing runtime pod drift")
		}
	}
}

// PendingPods lists the cached pods of the scheduler that are not bound yet.
func (t *DriftTracker) PendingPods() ([]*corev1.Pod, error) {
	pods, err := t.pods.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing cached runtime pods: %w", err)
	}
	out := pods[:0:0]
	for _, p := range pods {
		if p.Spec.NodeName == "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// Recompute lists the cached runtime pods, finds their drift and updates the
// gauges. It is safe for concurrent use.
func (t *DriftTracker) Recompute() error {
	pods, err := t.pods.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing runtime pods: %w", err)
	}
	perNS := map[string]int{}
	perReason := map[[2]string]int{}
	var found []drift.Drift
	var missing []string
	for _, pod := range pods {
		if !t.tracked(pod) {
			continue
		}
		perNS[pod.Namespace]++
		ns, err := t.namespaces.Get(pod.Namespace)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("looking up namespace %s: %w", pod.Namespace, err)
			}
			missing = append(missing, pod.Namespace) // being deleted, or not cached yet
			continue
		}
		d, ok := t.checker.Check(pod, ns.Labels)
		if !ok {
			continue
		}
		found = append(found, d)
		for _, r := range d.Reasons {
			perReason[[2]string{pod.Namespace, string(r)}]++
		}
	}
	slices.SortFunc(found, func(a, b drift.Drift) int {
		return strings.Compare(a.Pod.Namespace+"/"+a.Pod.Name, b.Pod.Namespace+"/"+b.Pod.Name)
	})
	if len(missing) > 0 {
		t.log.V(1).Info("namespaces of runtime pods not in the cache", "namespaces", slices.Compact(slices.Sorted(slices.Values(missing))))
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	for ns, n := range perNS {
		t.runtimePods.WithLabelValues(ns).Set(float64(n))
	}
	for ns := range t.podKeys {
		if perNS[ns] == 0 {
			t.runtimePods.DeleteLabelValues(ns)
		}
	}
	t.podKeys = make(map[string]bool, len(perNS))
	for ns := range perNS {
		t.podKeys[ns] = true
	}
	for k, n := range perReason {
		t.drifted.WithLabelValues(k[0], k[1]).Set(float64(n))
	}
	for k := range t.reasons {
		if perReason[k] == 0 {
			t.drifted.DeleteLabelValues(k[0], k[1])
		}
	}
	t.reasons = make(map[[2]string]bool, len(perReason))
	for k := range perReason {
		t.reasons[k] = true
	}
	t.last = found
	return nil
}

// tracked reports whether pod is a live runtime pod hdscale decided and
// placed (the field selector already keeps other schedulers' pods out).
func (t *DriftTracker) tracked(pod *corev1.Pod) bool {
	if _, ok := pod.Annotations[policy.AnnotationPolicy]; !ok || pod.Spec.SchedulerName != t.schedulerName {
		return false
	}
	return pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// Drifted returns the drifted pods found by the latest recompute, sorted by
// namespace and name. The pods are shared with the cache: do not modify them.
func (t *DriftTracker) Drifted() []drift.Drift {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.last)
}
