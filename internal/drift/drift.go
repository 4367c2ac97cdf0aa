// Package drift finds runtime pods whose hdscale decision is out of date: the
// fields the webhook set when the pod was created differ from what it would
// set if the pod were created again now (the namespace was relabelled, the
// pool changed shape, a sidecar or DaemonSet changed, or the namespace opted
// out). It is pure: the caller supplies the pods, labels and pool facts.
//
// The decision itself is the webhook's (webhook.Plan), reached through the
// Planner interface so this package does not import the webhook (which
// imports it for its drift metric); webhook.NewDriftPlanner implements it.
package drift

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
	"github.com/hdscale/hdscale/internal/quantityguard"
)

// Reason is a coarse cause of drift (the reason label of the drift metric).
type Reason string

const (
	// ReasonLabels: the namespace's hdscale.io/ labels changed since the pod
	// was decided (its annotation's labelsHash differs), or are now invalid.
	ReasonLabels Reason = "labels"
	// ReasonPoolShape: the pool's node CPU the pod was sized for changed (the
	// reference shape, or a pod admitted unsized whose pool has a usable
	// node now).
	ReasonPoolShape Reason = "pool-shape"
	// ReasonOptedOut: hdscale would no longer manage the pod: its namespace
	// lost hdscale.io/pattern, or the webhook config no longer matches it as
	// a runtime pod.
	ReasonOptedOut Reason = "opted-out"
	// ReasonSizing: anything else (DaemonSet reservations, the pod's
	// sidecars, the webhook config).
	ReasonSizing Reason = "sizing"
)

// Reasons lists every reason, in the order they are reported.
var Reasons = []Reason{ReasonLabels, ReasonPoolShape, ReasonOptedOut, ReasonSizing}

// Unset stands for "no value" in a Field.
const Unset = "(unset)"

// Field is one field that would change if the pod were created again now.
type Field struct {
	// Field names it as the webhook does, e.g. nodeSelector[hdscale.io/pool]
	// or containers[runtime].resources.cpu.
	Field string `json:"field"`
	// Now is the pod's value (Unset when it has none).
	Now string `json:"now"`
	// WouldBe is the value the webhook would give it (Unset: removed).
	WouldBe string `json:"wouldBe"`
}

// Drift is a runtime pod that differs from what it would get now.
type Drift struct {
	Pod *corev1.Pod `json:"-"`
	// Annotation is the pod's hdscale.io/policy decision.
	Annotation policy.Annotation `json:"annotation"`
	Fields     []Field           `json:"fields"`
	// Reasons explain the fields, in the order of Reasons (at least one).
	Reasons []Reason `json:"reasons"`
}

// Outcome is what the webhook would do with a pod if it were created now.
type Outcome struct {
	// Runtime is false when the webhook config no longer matches the pod.
	Runtime bool
	// Fields are the fields it would set, with the pod's current values.
	Fields []Field
	// NodeCPUMilli is the node CPU the sizing would assume (0: none).
	NodeCPUMilli int64
	// Deny, when set, is the message the pod would be denied with.
	Deny string
}

// Planner decides a pod as the webhook's admission would: webhook.Plan on the
// pod as it runs, so Outcome.Fields are exactly the fields a new pod made from
// the same template would get differently.
type Planner interface {
	Replan(pod *corev1.Pod, ns policy.Namespace, p *pool.Pool, declaredCPUMilli int64) Outcome
}

// Checker finds the drift of runtime pods.
type Checker struct {
	Planner Planner
	// Pool returns the facts of a pool now (pool.Facts; nil: no node is
	// labelled for it). A nil Pool knows no pools.
	Pool func(name string) *pool.Pool
	// DeclaredCPU is the node CPU (millicores) declared per pool in the
	// webhook config (webhook.Config.DeclaredCPU).
	DeclaredCPU map[string]int64
}

// Check reports how pod, in a namespace that now has nsLabels, differs from
// what it would get now. ok is false when it does not: the pod is up to
// date, carries no valid hdscale.io/policy annotation, or its namespace is in
// audit mode (the webhook would change nothing).
func (c Checker) Check(pod *corev1.Pod, nsLabels map[string]string) (d Drift, ok bool) {
	v, has := pod.Annotations[policy.AnnotationPolicy]
	if !has {
		return Drift{}, false
	}
	ann, _, err := policy.ParseAnnotation(v)
	if err != nil || ann.Mode == policy.ModeAudit {
		return Drift{}, false
	}
	d = Drift{Pod: pod, Annotation: ann}
	ns, optedIn, err := policy.Parse(nsLabels)
	switch {
	case !optedIn:
		d.Fields = []Field{{Field: "namespace " + policy.LabelPattern, Now: string(ann.Pattern), WouldBe: Unset + ": not managed by hdscale"}}
		d.Reasons = []Reason{ReasonOptedOut}
		return d, true
	case err != nil:
		d.Fields = []Field{{Field: "namespace labels", Now: "valid", WouldBe: "denied: " + err.Error()}}
		d.Reasons = []Reason{ReasonLabels}
		return d, true
	case ns.Mode == policy.ModeAudit:
		return Drift{}, false
	}
	var p *pool.Pool
	if c.Pool != nil {
		p = c.Pool(ns.Pool)
	}
	out := c.Planner.Replan(pod, ns, p, c.DeclaredCPU[ns.Pool])
	switch {
	case !out.Runtime:
		d.Fields = []Field{{Field: "runtime match", Now: "runtime pod", WouldBe: Unset + ": the webhook config no longer matches it"}}
		d.Reasons = []Reason{ReasonOptedOut}
		return d, true
	case out.Deny != "":
		d.Fields = append(out.Fields, Field{Field: "admission", Now: "admitted", WouldBe: "denied: " + out.Deny})
	case len(out.Fields) == 0:
		return Drift{}, false
	default:
		d.Fields = out.Fields
	}
	if ann.LabelsHash != ns.LabelsHash {
		d.Reasons = append(d.Reasons, ReasonLabels)
	}
	if ann.Pool == ns.Pool && milli(ann.NodeCPU) != out.NodeCPUMilli {
		d.Reasons = append(d.Reasons, ReasonPoolShape)
	}
	if len(d.Reasons) == 0 {
		d.Reasons = []Reason{ReasonSizing}
	}
	return d, true
}

// milli is the millicores of an annotation's quantity (0 for "" or invalid).
func milli(s string) int64 {
	if s == "" {
		return 0
	}
	q, err := quantityguard.ParseQuantity(s)
	if err != nil {
		return 0
	}
	return q.MilliValue()
}

// String is "namespace/name: field now -> wouldBe, ..." for logs.
func (d Drift) String() string {
	var b strings.Builder
	b.WriteString(d.Pod.Namespace + "/" + d.Pod.Name + ":")
	for i, f := range d.Fields {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %s %s -> %s", f.Field, f.Now, f.WouldBe)
	}
	return b.String()
}
