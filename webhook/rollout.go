package webhook

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hdscale/hdscale/internal/policy"
)

// A Deployment's default rolling update (maxSurge 25%, rounded up: at least
// one extra pod) creates a new replica before it removes an old one. When the
// runtime replicas already fill the pool (hetida installs run 2-4 runtime
// nodes, one per-node replica each), the surge replica has no room - the
// per-pattern cap and the CPU requests both refuse it - and the rollout never
// progresses. hdscale therefore gives runtime Deployments maxSurge 0: each
// old replica is removed before its replacement is created, which always
// has room. maxUnavailable keeps its value (at least 1, as the API requires
// with maxSurge 0). Recreate and StatefulSets never surge: left alone.

// AnnotationRollout records on a Deployment what hdscale changed in its
// strategy, and why.
const AnnotationRollout = policy.Prefix + "rollout"

// defaultMaxSurge is what the API server fills in for an unset maxSurge.
var defaultMaxSurge = intstr.FromString("25%")

// RolloutDecision is what to do with a runtime Deployment's strategy.
type RolloutDecision struct {
	// SetMaxSurge: set spec.strategy.rollingUpdate.maxSurge to 0, and
	// SetMaxUnavailable: maxUnavailable to 1 (it was 0).
	SetMaxSurge, SetMaxUnavailable bool
	// From is the maxSurge the Deployment had.
	From string
	// Conflict is set when the Deployment chose a surge itself.
	Conflict *Conflict
	Warnings []string
	// Deny, when not empty, is the message to deny the Deployment with.
	Deny string
}

// Changed reports whether the decision patches the Deployment.
func (d RolloutDecision) Changed() bool { return d.SetMaxSurge || d.SetMaxUnavailable }

// Note is the value of AnnotationRollout for the decision.
func (d RolloutDecision) Note() string {
	return fmt.Sprintf("maxSurge %s -> 0: runtime replicas are replaced one at a time (a surge replica has no room in a full pool)", d.From)
}

// PlanRollout decides a runtime Deployment's strategy for namespace policy ns.
// The API server's default maxSurge (25%) counts as unset: hdscale sets 0.
// Any other non-zero maxSurge is the Deployment's own choice, a conflict
// resolved by the namespace's conflict mode (fill keeps it and warns that
// rollouts at full capacity stall, enforce sets 0, reject denies). In audit
// mode nothing changes; the warning says what enforce mode would do.
func PlanRollout(s appsv1.DeploymentStrategy, ns policy.Namespace) RolloutDecision {
	var d RolloutDecision
	if s.Type == appsv1.RecreateDeploymentStrategyType {
		return d
	}
	surge, unavailable := defaultMaxSurge, intstr.FromString("25%")
	if ru := s.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			surge = *ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			unavailable = *ru.MaxUnavailable
		}
	}
	if isZero(surge) {
		return d
	}
	d.From = surge.String()
	audit := ns.Mode == policy.ModeAudit
	set := func() {
		if audit {
			d.Warnings = append(d.Warnings, fmt.Sprintf("hdscale audit: would set spec.strategy.rollingUpdate.maxSurge %s -> 0 (rollouts at full pool capacity stall)", d.From))
			return
		}
		d.SetMaxSurge = true
		d.SetMaxUnavailable = isZero(unavailable)
		d.Warnings = append(d.Warnings, fmt.Sprintf("hdscale: set spec.strategy.rollingUpdate.maxSurge %s -> 0: runtime replicas are replaced one at a time", d.From))
	}
	if surge == defaultMaxSurge {
		set()
		return d
	}
	field := "spec.strategy.rollingUpdate.maxSurge"
	switch actionFor(ns.Conflict) {
	case ActionKept:
		d.Conflict = &Conflict{Field: field, Pod: surge.String(), Policy: "0", To: surge.String(), Action: ActionKept}
		d.Warnings = append(d.Warnings, fmt.Sprintf("hdscale: kept maxSurge %s: a rollout stalls while the pool is full (hdscale.io/conflict=enforce sets 0)", d.From))
	case ActionOverwritten:
		d.Conflict = &Conflict{Field: field, Pod: surge.String(), Policy: "0", To: "0", Action: ActionOverwritten}
		set()
	default:
		d.Conflict = &Conflict{Field: field, Pod: surge.String(), Policy: "0", Action: ActionDenied}
		msg := fmt.Sprintf("hdscale: the Deployment's maxSurge %s contradicts its namespace's policy (hdscale.io/conflict=reject): a surge replica "+
			"has no room in a full pool, so rollouts stall. Set spec.strategy.rollingUpdate.maxSurge to 0, or hdscale.io/conflict=fill or enforce", d.From)
		if audit {
			d.Warnings = append(d.Warnings, fmt.Sprintf("hdscale audit: would deny the Deployment: maxSurge %s stalls rollouts in a full pool", d.From))
			return d
		}
		d.Deny = msg
	}
	return d
}

// isZero reports whether v is 0 or "0%" (what the API server treats as no
// surge or no unavailability).
func isZero(v intstr.IntOrString) bool {
	if v.Type == intstr.Int {
		return v.IntVal == 0
	}
	return v.StrVal == "0%" || v.StrVal == "0"
}
