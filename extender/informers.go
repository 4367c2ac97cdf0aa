package extender

import (
	"context"
	"time"

	hdkube "github.com/hdscale/hdscale/internal/kube"
	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// startInformers starts the node and pod informers feeding the store and
// returns their HasSynced functions. Pods in phase Succeeded or Failed are
// not watched (they hold no resources; leaving the selection is a delete).
func (e *Extender) startInformers(ctx context.Context, kube kubernetes.Interface) []cache.InformerSynced {
	nodes := coreinformers.NewFilteredNodeInformer(kube, 0, cache.Indexers{}, hdkube.CapWatch(hdkube.MaxWatch, nil))
	pods := coreinformers.NewFilteredPodInformer(kube, metav1.NamespaceAll, 0, cache.Indexers{}, hdkube.CapWatch(hdkube.MaxWatch, func(o *metav1.ListOptions) {
		o.FieldSelector = "status.phase!=" + string(v1.PodSucceeded) + ",status.phase!=" + string(v1.PodFailed)
	}))
	// SetTransform only fails once an informer has started.
	_ = nodes.SetTransform(stripNode)
	_ = pods.SetTransform(stripPod)
	_, _ = nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { e.nodeEvent(obj, false) },
		UpdateFunc: func(_, obj any) { e.nodeEvent(obj, false) },
		DeleteFunc: func(obj any) { e.nodeEvent(obj, true) },
	})
	_, _ = pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { e.podEvent(obj, false) },
		UpdateFunc: func(_, obj any) { e.podEvent(obj, false) },
		DeleteFunc: func(obj any) { e.podEvent(obj, true) },
	})
	go nodes.RunWithContext(ctx)
	go pods.RunWithContext(ctx)
	return []cache.InformerSynced{nodes.HasSynced, pods.HasSynced}
}

func (e *Extender) nodeEvent(obj any, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj, deleted = t.Obj, true
	}
	n, ok := obj.(*v1.Node)
	if !ok {
		return
	}
	if deleted {
		e.deleteNode(n.Name)
		return
	}
	e.setNode(n)
}

func (e *Extender) podEvent(obj any, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj, deleted = t.Obj, true
	}
	p, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	if deleted {
		e.deletePod(p.UID)
		return
	}
	e.setPod(p)
}

// setNode records a node's facts.
func (e *Extender) setNode(n *v1.Node) {
	f := pool.NodeFrom(n)
	e.store.update(func(b *Builder) bool { return b.SetNode(f) })
}

// deleteNode forgets a node.
func (e *Extender) deleteNode(name string) {
	e.store.update(func(b *Builder) bool { return b.DeleteNode(name) })
}

// setPod records a pod and reconciles its reservation: a bound runtime
// replica keeps its reservation's time as its placement time (the
// reservation itself is dropped once a snapshot counting the pod is
// published); an unschedulable or terminal pod's reservation is dropped.
func (e *Extender) setPod(p *v1.Pod) {
	f := podFactsFrom(p)
	var placedAt time.Time
	switch {
	case f.Terminal:
		e.res.Release(f.UID)
	case f.Node == "" && f.Unschedulable:
		e.res.ReleaseUnschedulable(f.UID, f.ResourceVersion)
	case f.Node != "" && f.Runtime:
		if r, ok := e.res.Get(f.UID); ok {
			placedAt = r.Created
		}
	}
	now := e.clock.Now()
	e.store.update(func(b *Builder) bool { return b.SetPod(f, placedAt, now) })
}

// deletePod forgets a pod and drops its reservation.
func (e *Extender) deletePod(uid types.UID) {
	e.res.Forget(uid, e.clock.Now())
	e.store.update(func(b *Builder) bool { return b.DeletePod(uid) })
}

// stripNode keeps only what pool.NodeFrom reads: the pool label, the deletion
// timestamp, unschedulable, taints, allocatable CPU and memory and the Ready
// condition (without its heartbeat).
func stripNode(obj any) (any, error) {
	n, ok := obj.(*v1.Node)
	if !ok {
		return obj, nil
	}
	out := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, UID: n.UID, ResourceVersion: n.ResourceVersion, DeletionTimestamp: n.DeletionTimestamp}}
	if v, ok := n.Labels[policy.NodePoolKey]; ok {
		out.Labels = map[string]string{policy.NodePoolKey: v}
	}
	out.Spec.Unschedulable = n.Spec.Unschedulable
	out.Spec.Taints = n.Spec.Taints
	out.Status.Allocatable = v1.ResourceList{}
	for _, r := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
		if q, ok := n.Status.Allocatable[r]; ok {
			out.Status.Allocatable[r] = q
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			out.Status.Conditions = []v1.NodeCondition{{Type: c.Type, Status: c.Status}}
		}
	}
	return out, nil
}

// stripPod keeps only what podFactsFrom reads.
func stripPod(obj any) (any, error) {
	p, ok := obj.(*v1.Pod)
	if !ok {
		return obj, nil
	}
	out := &v1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion, DeletionTimestamp: p.DeletionTimestamp,
	}}
	if v, ok := p.Annotations[policy.AnnotationPolicy]; ok {
		out.Annotations = map[string]string{policy.AnnotationPolicy: v}
	}
	out.Spec.NodeName = p.Spec.NodeName
	out.Spec.Overhead = cpuOnly(p.Spec.Overhead)
	if r := p.Spec.Resources; r != nil {
		if req := cpuOnly(r.Requests); req != nil {
			out.Spec.Resources = &v1.ResourceRequirements{Requests: req}
		}
	}
	out.Spec.Containers = make([]v1.Container, len(p.Spec.Containers))
	for i := range p.Spec.Containers {
		out.Spec.Containers[i].Resources.Requests = cpuOnly(p.Spec.Containers[i].Resources.Requests)
	}
	if len(p.Spec.InitContainers) > 0 {
		out.Spec.InitContainers = make([]v1.Container, len(p.Spec.InitContainers))
		for i := range p.Spec.InitContainers {
			c := &p.Spec.InitContainers[i]
			out.Spec.InitContainers[i].Resources.Requests = cpuOnly(c.Resources.Requests)
			out.Spec.InitContainers[i].RestartPolicy = c.RestartPolicy
		}
	}
	out.Status.Phase = p.Status.Phase
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodScheduled {
			out.Status.Conditions = []v1.PodCondition{{Type: c.Type, Status: c.Status, Reason: c.Reason, LastTransitionTime: c.LastTransitionTime}}
		}
	}
	var started metav1.Time
	for _, cs := range p.Status.ContainerStatuses {
		if r := cs.State.Running; r != nil && r.StartedAt.After(started.Time) {
			started = r.StartedAt
		}
	}
	if !started.IsZero() {
		out.Status.ContainerStatuses = []v1.ContainerStatus{{State: v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: started}}}}
	}
	return out, nil
}

func cpuOnly(rl v1.ResourceList) v1.ResourceList {
	if q, ok := rl[v1.ResourceCPU]; ok {
		return v1.ResourceList{v1.ResourceCPU: q}
	}
	return nil
}
