package webhook

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// PlanInput is everything a decision about one runtime pod depends on.
type PlanInput struct {
	// Pod is the pod as admitted; Plan never modifies it.
	Pod *corev1.Pod
	// Runtime are the indexes of the runtime containers (Match.Containers).
	Runtime []int
	// Policy is the namespace's parsed hdscale labels (policy.Parse).
	Policy policy.Namespace
	// Pool is the shape of the policy's pool.
	Pool policy.PoolShape
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
	s := policy.Size(ns, in.Pool)
	scheduler := ""
	if ns.Scheduler == policy.SchedulerHdscale {
		scheduler = in.SchedulerName
	}
	d := Decision{
		Sizing:           s,
		Annotation:       policy.NewAnnotation(ns, s, scheduler),
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

// poolWarnings explain sizings that may surprise: no nodes yet, nodes of
// different sizes, or an hdscale.io/cpu override no pool node can hold.
func poolWarnings(ns policy.Namespace, pool policy.PoolShape, s policy.Sizing) []string {
	var w []string
	if pool.Nodes == 0 {
		w = append(w, fmt.Sprintf("hdscale: pool %s has no Ready schedulable nodes; assumed %s CPU nodes, pods stay Pending until nodes join",
			ns.Pool, policy.MilliString(policy.DefaultNodeCPUMilli)))
		return w
	}
	if pool.Uneven() && s.Source == policy.SizedFromPool && ns.Pattern.WholeNode() {
		w = append(w, fmt.Sprintf("hdscale: pool %s nodes differ (%s to %s CPU allocatable); sized for the smallest",
			ns.Pool, policy.MilliString(pool.MinCPUMilli), policy.MilliString(pool.MaxCPUMilli)))
	}
	if ns.CPUMilli > 0 && s.CPURequestMilli > pool.MaxCPUMilli-pool.ReservedCPUMilli {
		w = append(w, fmt.Sprintf("hdscale: %s=%s does not fit on any pool %s node (at most %s CPU free); pods stay Pending",
			policy.LabelCPU, policy.MilliString(ns.CPUMilli), ns.Pool, policy.MilliString(max(pool.MaxCPUMilli-pool.ReservedCPUMilli, 0))))
	}
	return w
}
