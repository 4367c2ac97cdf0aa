package extender

import (
	"fmt"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podKind is what the extender does with a pod.
type podKind uint8

const (
	// kindPassthrough: no hdscale.io/policy annotation (or audit mode): every
	// node passes, every score is equal.
	kindPassthrough podKind = iota
	// kindRuntime: a runtime replica placed by the rules.
	kindRuntime
	// kindInvalid: the annotation cannot be used; every node fails, so the
	// pod is placed nowhere rather than somewhere wrong.
	kindInvalid
)

func (k podKind) String() string {
	switch k {
	case kindRuntime:
		return "runtime"
	case kindInvalid:
		return "invalid"
	}
	return "passthrough"
}

// podCtx is the pod being scheduled, as the rules see it.
type podCtx struct {
	UID             types.UID
	Namespace, Name string
	ResourceVersion string
	Placement       policy.Placement
	Group           groupKey
	// EstimateMilli is the pod's CPU estimate (policy.Placement.EstimateMilli) and
	// RequestMilli its effective CPU request (the fallback's measure).
	EstimateMilli int64
	RequestMilli  int64
}

// classify reads the pod's hdscale.io/policy annotation and cross-checks it
// with the pod's nodeSelector. msg explains a passthrough or invalid pod.
func classify(p *v1.Pod) (pc podCtx, kind podKind, msg string) {
	pc = podCtx{UID: p.UID, Namespace: p.Namespace, Name: p.Name, ResourceVersion: p.ResourceVersion}
	v, ok := p.Annotations[policy.AnnotationPolicy]
	if !ok {
		return pc, kindPassthrough, "pod has no " + policy.AnnotationPolicy + " annotation"
	}
	a, pl, err := policy.ParseAnnotation(v)
	if err != nil {
		return pc, kindInvalid, "hdscale: " + err.Error() + "; the pod is placed nowhere until the annotation is fixed"
	}
	if a.Mode == policy.ModeAudit {
		return pc, kindPassthrough, "annotation is in audit mode: the extender does not place the pod"
	}
	if sel, ok := p.Spec.NodeSelector[policy.NodePoolKey]; ok && sel != pl.Pool {
		return pc, kindInvalid, fmt.Sprintf("hdscale: the pod's nodeSelector %s=%q contradicts its %s pool %q; the pod is placed nowhere until they agree",
			policy.NodePoolKey, sel, policy.AnnotationPolicy, pl.Pool)
	}
	pc.Placement = pl
	pc.Group = groupKey{Namespace: p.Namespace, Pool: pl.Pool}
	pc.EstimateMilli = clampMilli(pl.EstimateMilli())
	pc.RequestMilli = pool.PodCPURequestMilli(p)
	if pc.RequestMilli == 0 {
		pc.RequestMilli = clampMilli(pl.CPURequestMilli)
	}
	return pc, kindRuntime, ""
}
