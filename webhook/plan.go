package webhook

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
)

// PlanInput is everything a decision about one runtime pod depends on.
type PlanInput struct {
	// Pod is the pod as admitted; Plan never modifies it.
	Pod *corev1.Pod
	// Runtime are the indexes of the runtime containers (Match.Containers).
	Runtime []int
	// Policy is the namespace's parsed hdscale labels (policy.Parse).
	Policy policy.Namespace
	// Pool is the facts of the policy's pool (nil: no node is labelled for it).
	Pool *pool.Pool
	// DeclaredCPUMilli is the node CPU the admin declared for the pool in
	// the webhook config (0: none); used only while the pool has no usable node.
	DeclaredCPUMilli int64
	// SchedulerName is the scheduler runtime pods get (--scheduler-name),
	// unless the namespace keeps the default scheduler.
	SchedulerName string
}

// Decision is what the webhook does with one runtime pod.
type Decision struct {
	// Pod is a copy of the input pod with the decision applied: the policy's
	// fields and annotations in enforce mode, only the hdscale.io/would-change
	// annotation in audit mode. Unused when Deny is set.
	Pod *corev1.Pod
	// Modified reports whether Pod differs from the input.
	Modified bool
	Sizing   policy.Sizing
	// Annotation is the hdscale.io/policy value (set on Pod in enforce mode).
	Annotation policy.Annotation
	// Changes are the fields set, or in audit mode the fields enforce mode would set.
	Changes []Change
	// Conflicts are the fields the pod sets to something else than the policy.
	Conflicts []Conflict
	// Warnings are the admission warnings (capped to 120 characters when the
	// response is built).
	Warnings []string
	// AuditAnnotations go into the AdmissionResponse (the API server prefixes
	// their keys with the webhook name).
	AuditAnnotations map[string]string
	// Deny, when not empty, is the message to deny the pod with.
	Deny string
}

// Plan decides what to do with a runtime pod. It is pure: the result depends
// only on its input.
//
// Each governed field (toleration, nodeSelector, schedulerName and, per
// runtime container, CPU and the worker env variables) is either already
// right, unset (the policy sets it), or set by the pod to something else: a
// conflict, resolved by the namespace's conflict mode (fill keeps the pod's
// value, enforce overwrites it, reject denies the pod). A value equal to what
// the pod's own earlier hdscale.io/policy annotation recorded was set by
// hdscale, not by the pod, and is re-applied without a conflict (drift after a
// namespace relabel or a pool change). In audit mode nothing is changed but
// the hdscale.io/would-change annotation.
func Plan(in PlanInput) Decision {
	ns := in.Policy
	s := policy.Size(ns, pool.BudgetFor(in.Pool, in.DeclaredCPUMilli, in.Pod, in.Runtime))
	scheduler := ""
	if ns.Scheduler == policy.SchedulerHdscale {
		scheduler = in.SchedulerName
	}
	names := make([]string, len(in.Runtime))
	for j, i := range in.Runtime {
		names[j] = in.Pod.Spec.Containers[i].Name
	}
	d := Decision{
		Sizing:           s,
		Annotation:       policy.NewAnnotation(ns, s, names, scheduler),
		AuditAnnotations: map[string]string{},
	}
	audit := ns.Mode == policy.ModeAudit
	prev := parsePrevious(in.Pod)
	out := in.Pod.DeepCopy()

	action := actionFor(ns.Conflict)
	for _, r := range buildRules(in.Pod, in.Runtime, ns, s, scheduler, prev) {
		switch {
		case r.status == fieldOK:
			continue
		case r.status == fieldUnset, r.previous:
			d.Changes = append(d.Changes, Change{Field: r.field, To: r.changeTo})
			if !audit {
				r.apply(out)
				d.Modified = true
			}
		default: // a conflict
			c := r.conflict(action)
			d.Conflicts = append(d.Conflicts, c)
			if action == ActionOverwritten {
				d.Changes = append(d.Changes, Change{Field: r.field, To: r.changeTo})
				if !audit {
					r.apply(out)
					d.Modified = true
				}
			}
		}
	}

	d.Warnings = append(d.Warnings, poolWarnings(ns, in.Pool, s)...)
	if in.Pool == nil || in.Pool.Members == 0 || len(in.Pool.Outliers) > 0 {
		d.AuditAnnotations["pool"] = describePool(ns.Pool, in.Pool) + poolDetail(in.Pool)
	}
	if prev.ok && prev.ann.LabelsHash != ns.LabelsHash {
		d.Warnings = append(d.Warnings, fmt.Sprintf("hdscale: the pod's %s came from other namespace labels (labelsHash %s, now %s); re-applied",
			policy.AnnotationPolicy, prev.ann.LabelsHash, ns.LabelsHash))
		d.AuditAnnotations["drift"] = fmt.Sprintf("labelsHash %s -> %s", prev.ann.LabelsHash, ns.LabelsHash)
	}
	for _, c := range d.Conflicts {
		d.Warnings = append(d.Warnings, c.Warning(audit))
		d.AuditAnnotations[auditKey("conflict.", c.Field, d.AuditAnnotations)] = c.auditValue()
	}
	deny := ""
	if action == ActionDenied && len(d.Conflicts) > 0 {
		deny = denyMessage(ns.Pattern, d.Conflicts)
	}

	if audit {
		if deny == "" {
			for _, c := range d.Changes {
				if !hasConflict(d.Conflicts, c.Field) { // conflicts have their own warning
					d.Warnings = append(d.Warnings, fmt.Sprintf("hdscale audit: would set %s: %s", c.Field, c.To))
				}
			}
		}
		if len(d.Changes) > 0 || deny != "" {
			wc := wouldChangeAnnotation(d.Changes, deny)
			d.AuditAnnotations["would-change"] = wc
			d.Modified = setAnnotation(out, policy.AnnotationAudit, wc) || d.Modified
		}
		d.Pod = out
		return d
	}
	if deny != "" {
		d.Deny = deny
		d.Pod = out
		d.Modified = false
		return d
	}
	enc := d.Annotation.Encode()
	d.AuditAnnotations["policy"] = enc
	d.Modified = setAnnotation(out, policy.AnnotationPolicy, enc) || d.Modified
	if len(d.Conflicts) > 0 {
		d.Modified = setAnnotation(out, policy.AnnotationConflicts, conflictsAnnotation(out.Annotations[policy.AnnotationConflicts], d.Conflicts)) || d.Modified
	}
	d.Pod = out
	return d
}

func hasConflict(cs []Conflict, field string) bool {
	for _, c := range cs {
		if c.Field == field {
			return true
		}
	}
	return false
}

// setAnnotation sets key=value on p and reports whether that changed anything.
func setAnnotation(p *corev1.Pod, key, value string) bool {
	if old, ok := p.Annotations[key]; ok && old == value {
		return false
	}
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[key] = value
	return true
}

// poolWarnings explain sizings that may surprise: no usable node, nodes of
// another shape than the pool's reference (they get no replicas), or a pod
// that cannot fit on a pool node.
func poolWarnings(ns policy.Namespace, p *pool.Pool, s policy.Sizing) []string {
	var w []string
	if p == nil || !p.HasRef {
		switch s.Source {
		case policy.SizedFromDeclared:
			w = append(w, fmt.Sprintf("hdscale: pool %s has no usable node; sized for its declared node CPU %s (webhook config)",
				ns.Pool, policy.MilliString(s.NodeCPUMilli)))
		case policy.Unsized:
			w = append(w, fmt.Sprintf("hdscale: pool %s has no usable node and no declared shape: admitted unsized, recreate it when a node is usable", ns.Pool))
		default:
			w = append(w, fmt.Sprintf("hdscale: pool %s has no usable node; the pod stays Pending until one is", ns.Pool))
		}
		return append(w, "hdscale: "+describePool(ns.Pool, p))
	}
	if p.Members == 0 {
		w = append(w, fmt.Sprintf("hdscale: pool %s has no usable node; sized for its nodes' shape (%s); Pending until one is usable", ns.Pool, p.Ref),
			"hdscale: "+describePool(ns.Pool, p))
	}
	if len(p.Outliers) > 0 {
		w = append(w, fmt.Sprintf("hdscale: pool %s: sized for its %d nodes of %s; %d node(s) of other shapes get no replicas",
			ns.Pool, p.Members, p.Ref, len(p.Outliers)))
		for i, n := range p.Outliers {
			if i == 3 {
				w = append(w, fmt.Sprintf("hdscale: pool %s: %d more nodes of other shapes; split them into a pool of their own", ns.Pool, len(p.Outliers)-3))
				break
			}
			w = append(w, fmt.Sprintf("hdscale: node %s (%s) is not of pool %s's shape: no replicas; give it a pool of its own", n.Name, n.Shape, ns.Pool))
		}
	}
	if free := p.Ref.CPUMilli - p.ReservedCPUMilli; s.Sized() && s.PodCPUMilli > free {
		w = append(w, fmt.Sprintf("hdscale: the pod requests %s CPU, a pool %s node has %s beside DaemonSets: it stays Pending",
			policy.MilliString(s.PodCPUMilli), ns.Pool, policy.MilliString(max(free, 0))))
	}
	return w
}

// poolDetail lists a pool's outliers and unusable nodes for the audit log.
func poolDetail(p *pool.Pool) string {
	if p == nil {
		return ""
	}
	var s string
	if len(p.Outliers) > 0 {
		s += "; outliers: " + describeNodes(p.Outliers, 20)
	}
	if len(p.Unusable) > 0 {
		s += "; unusable: " + describeNodes(p.Unusable, 20)
	}
	return s
}
