package webhook

import (
	"math"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hdscale/hdscale/internal/policy"
)

// Env variables hetida designer's runtime reads for its worker count.
const (
	// EnvWebConcurrency is read by uvicorn (and, when set, overrides the
	// deprecated gunicorn mode's formula).
	EnvWebConcurrency = "WEB_CONCURRENCY"
	// EnvMaxWorkers caps the gunicorn mode's worker count.
	EnvMaxWorkers = "MAX_WORKERS"
	// EnvWorkersPerCore is the gunicorn mode's workers per cpu_count() core.
	EnvWorkersPerCore = "WORKERS_PER_CORE"
)

// fieldStatus is how a pod's field relates to the policy.
type fieldStatus int

const (
	// fieldOK: the pod already has the policy's value (or, for fields the
	// policy only constrains, nothing to do).
	fieldOK fieldStatus = iota
	// fieldUnset: the pod leaves the field (or part of it) unset; the policy sets it.
	fieldUnset
	// fieldConflict: the pod sets the field to something else.
	fieldConflict
)

// fieldRule is one field the policy governs, evaluated against a pod.
type fieldRule struct {
	field  string
	status fieldStatus
	// have is the pod's value, for conflict messages.
	have string
	// want is the policy's value, for messages and the would-change annotation.
	want string
	// changeTo is the value the field gets when apply runs (want, or unsetText
	// for a removal).
	changeTo string
	// previous: the pod's conflicting value is the one an earlier hdscale
	// decision (the pod's own hdscale.io/policy annotation) recorded, so it was
	// set by hdscale, not by the pod: overwrite it without a conflict.
	previous bool
	// apply makes the pod (a copy) comply with the policy.
	apply func(*corev1.Pod)
}

// previousDecision is what an earlier hdscale decision recorded on the pod.
type previousDecision struct {
	ok        bool
	ann       policy.Annotation
	place     policy.Placement
	workers   string
	scheduler string
}

func parsePrevious(pod *corev1.Pod) previousDecision {
	v, ok := pod.Annotations[policy.AnnotationPolicy]
	if !ok {
		return previousDecision{}
	}
	a, pl, err := policy.ParseAnnotation(v)
	if err != nil {
		return previousDecision{}
	}
	return previousDecision{ok: true, ann: a, place: pl, workers: strconv.Itoa(a.Workers), scheduler: a.Scheduler}
}

// poolTaint is the taint pool nodes carry.
func poolTaint(pool string) corev1.Taint {
	return corev1.Taint{Key: policy.NodePoolKey, Value: pool, Effect: corev1.TaintEffectNoSchedule}
}

func tolerationRule(pod *corev1.Pod, pool string) fieldRule {
	taint := poolTaint(pool)
	r := fieldRule{field: "tolerations", want: "+" + taint.ToString(), changeTo: "+" + taint.ToString()}
	for i := range pod.Spec.Tolerations {
		if pod.Spec.Tolerations[i].ToleratesTaint(logr.Discard(), &taint, false) {
			r.status = fieldOK
			return r
		}
	}
	r.status = fieldUnset
	r.apply = func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{
			Key: taint.Key, Operator: corev1.TolerationOpEqual, Value: taint.Value, Effect: taint.Effect,
		})
	}
	return r
}

func nodeSelectorRule(pod *corev1.Pod, pool string, prev previousDecision) fieldRule {
	r := fieldRule{field: "nodeSelector[" + policy.NodePoolKey + "]", want: pool, changeTo: pool}
	r.apply = func(p *corev1.Pod) {
		if p.Spec.NodeSelector == nil {
			p.Spec.NodeSelector = map[string]string{}
		}
		p.Spec.NodeSelector[policy.NodePoolKey] = pool
	}
	have, ok := pod.Spec.NodeSelector[policy.NodePoolKey]
	switch {
	case !ok:
		r.status = fieldUnset
	case have == pool:
		r.status = fieldOK
	default:
		r.status, r.have = fieldConflict, have
		r.previous = prev.ok && prev.ann.Pool == have
	}
	return r
}

// schedulerRule: an empty schedulerName or the default scheduler's name
// counts as unset (the API server fills in default-scheduler before webhooks run).
func schedulerRule(pod *corev1.Pod, scheduler string, prev previousDecision) fieldRule {
	r := fieldRule{field: "schedulerName", want: scheduler, changeTo: scheduler}
	r.apply = func(p *corev1.Pod) { p.Spec.SchedulerName = scheduler }
	have := pod.Spec.SchedulerName
	switch have {
	case "", corev1.DefaultSchedulerName:
		r.status = fieldUnset
	case scheduler:
		r.status = fieldOK
	default:
		r.status, r.have = fieldConflict, have
		r.previous = prev.ok && prev.scheduler == have
	}
	return r
}

// schedulerResetRule turns the scheduler an earlier hdscale decision set back
// to the default one (a namespace switched to hdscale.io/scheduler=default);
// buildRules uses it only when the pod's schedulerName is that decision's.
func schedulerResetRule(pod *corev1.Pod) fieldRule {
	return fieldRule{field: "schedulerName", want: corev1.DefaultSchedulerName, changeTo: corev1.DefaultSchedulerName,
		status: fieldConflict, have: pod.Spec.SchedulerName, previous: true,
		apply: func(p *corev1.Pod) { p.Spec.SchedulerName = corev1.DefaultSchedulerName }}
}

func containerField(c *corev1.Container, rest string) string {
	return "containers[" + c.Name + "]." + rest
}

func cpuText(req, lim string) string {
	var parts []string
	if req != "" {
		parts = append(parts, "request="+req)
	}
	if lim != "" {
		parts = append(parts, "limit="+lim)
	}
	return strings.Join(parts, " ")
}

// cpuRule treats a container's CPU request and limit as one field: the pod
// conflicts when either value it sets differs from the policy; when every
// value it sets agrees, the missing one is filled. So fill mode never mixes a
// pod's request with the policy's limit (which could make request > limit).
func cpuRule(pod *corev1.Pod, i int, s policy.Sizing, prev previousDecision) fieldRule {
	c := &pod.Spec.Containers[i]
	wantReq, wantLim := policy.MilliString(s.CPURequestMilli), policy.MilliString(s.CPULimitMilli)
	r := fieldRule{field: containerField(c, "resources.cpu"), want: cpuText(wantReq, wantLim)}
	r.changeTo = r.want
	r.apply = func(p *corev1.Pod) {
		res := &p.Spec.Containers[i].Resources
		if res.Requests == nil {
			res.Requests = corev1.ResourceList{}
		}
		if res.Limits == nil {
			res.Limits = corev1.ResourceList{}
		}
		res.Requests[corev1.ResourceCPU] = *resource.NewMilliQuantity(s.CPURequestMilli, resource.DecimalSI)
		res.Limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(s.CPULimitMilli, resource.DecimalSI)
	}
	req, hasReq := c.Resources.Requests[corev1.ResourceCPU]
	lim, hasLim := c.Resources.Limits[corev1.ResourceCPU]
	if !hasReq && !hasLim {
		r.status = fieldUnset
		return r
	}
	agrees := func(reqMilli, limMilli int64) bool {
		return (!hasReq || req.MilliValue() == reqMilli) && (!hasLim || lim.MilliValue() == limMilli)
	}
	switch {
	case agrees(s.CPURequestMilli, s.CPULimitMilli) && hasReq && hasLim:
		r.status = fieldOK
	case agrees(s.CPURequestMilli, s.CPULimitMilli):
		r.status = fieldUnset
	default:
		var haveReq, haveLim string
		if hasReq {
			haveReq = req.String()
		}
		if hasLim {
			haveLim = lim.String()
		}
		r.status, r.have = fieldConflict, cpuText(haveReq, haveLim)
		r.previous = prev.ok && agrees(prev.place.CPURequestMilli, prev.place.CPULimitMilli)
	}
	return r
}

// effectiveEnv returns the index of the env entry named name that takes
// effect (the last one: later duplicates win), or -1.
func effectiveEnv(c *corev1.Container, name string) int {
	for j := len(c.Env) - 1; j >= 0; j-- {
		if c.Env[j].Name == name {
			return j
		}
	}
	return -1
}

// setEnv sets name=value on container i of p: the first entry named name
// takes the value (its valueFrom cleared), later duplicates are removed, or a
// new entry is appended.
func setEnv(p *corev1.Pod, i int, name, value string) {
	c := &p.Spec.Containers[i]
	found := false
	out := c.Env[:0]
	for _, e := range c.Env {
		if e.Name != name {
			out = append(out, e)
			continue
		}
		if !found {
			out = append(out, corev1.EnvVar{Name: name, Value: value})
			found = true
		}
	}
	if !found {
		out = append(out, corev1.EnvVar{Name: name, Value: value})
	}
	c.Env = out
}

// unsetEnv removes every entry named name from container i of p.
func unsetEnv(p *corev1.Pod, i int, name string) {
	c := &p.Spec.Containers[i]
	out := c.Env[:0]
	for _, e := range c.Env {
		if e.Name != name {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		out = nil
	}
	c.Env = out
}

// workersRule governs WEB_CONCURRENCY or MAX_WORKERS: the policy's worker
// count. A value from valueFrom is "set by the pod, value unknown": a conflict.
func workersRule(pod *corev1.Pod, i int, name string, workers int, prev previousDecision) fieldRule {
	c := &pod.Spec.Containers[i]
	want := strconv.Itoa(workers)
	r := fieldRule{field: containerField(c, "env["+name+"]"), want: want, changeTo: want}
	r.apply = func(p *corev1.Pod) { setEnv(p, i, name, want) }
	j := effectiveEnv(c, name)
	switch {
	case j < 0:
		r.status = fieldUnset
	case c.Env[j].ValueFrom != nil:
		r.status, r.have = fieldConflict, valueFromText
	default:
		have := c.Env[j].Value
		if n, err := strconv.Atoi(strings.TrimSpace(have)); err == nil && n == workers {
			r.status = fieldOK
			return r
		}
		r.status, r.have = fieldConflict, strconv.Quote(have)
		r.previous = prev.ok && strings.TrimSpace(have) == prev.workers
	}
	return r
}

// workersPerCoreRule: WORKERS_PER_CORE may stay unset or be consistent with
// the policy; an inconsistent (or valueFrom) value is a conflict, and
// resolving it (enforce) removes the variable, since WEB_CONCURRENCY decides.
func workersPerCoreRule(pod *corev1.Pod, i int, s policy.Sizing) fieldRule {
	c := &pod.Spec.Containers[i]
	wpc := s.ConsistentWorkersPerCore()
	want := strconv.FormatFloat(wpc, 'g', 4, 64)
	r := fieldRule{field: containerField(c, "env["+EnvWorkersPerCore+"]"), want: unsetText + " or " + want, changeTo: unsetText}
	r.apply = func(p *corev1.Pod) { unsetEnv(p, i, EnvWorkersPerCore) }
	j := effectiveEnv(c, EnvWorkersPerCore)
	switch {
	case j < 0:
		r.status = fieldOK
	case c.Env[j].ValueFrom != nil:
		r.status, r.have = fieldConflict, valueFromText
	default:
		have := c.Env[j].Value
		v, err := strconv.ParseFloat(strings.TrimSpace(have), 64)
		if err == nil && math.Abs(v*float64(s.NodeCores())-float64(s.Workers)) < 0.01 {
			r.status = fieldOK
			return r
		}
		r.status, r.have = fieldConflict, strconv.Quote(have)
	}
	return r
}

// buildRules lists every field the policy governs for pod.
func buildRules(pod *corev1.Pod, runtime []int, ns policy.Namespace, s policy.Sizing, scheduler string, prev previousDecision) []fieldRule {
	rules := make([]fieldRule, 0, 3+4*len(runtime))
	rules = append(rules, tolerationRule(pod, ns.Pool), nodeSelectorRule(pod, ns.Pool, prev))
	switch {
	case scheduler != "":
		rules = append(rules, schedulerRule(pod, scheduler, prev))
	case prev.ok && prev.scheduler != "" && pod.Spec.SchedulerName == prev.scheduler:
		// hdscale.io/scheduler=default now, and the pod carries hdscale's
		// earlier choice of scheduler: undo it like any earlier decision.
		rules = append(rules, schedulerResetRule(pod))
	}
	if !s.Sized() {
		return rules // placement only: CPU and workers are left as the pod has them
	}
	for _, i := range runtime {
		rules = append(rules,
			cpuRule(pod, i, s, prev),
			workersRule(pod, i, EnvWebConcurrency, s.Workers, prev),
			workersRule(pod, i, EnvMaxWorkers, s.Workers, prev),
			workersPerCoreRule(pod, i, s),
		)
	}
	return rules
}

func (r fieldRule) conflict(a Action) Conflict {
	return Conflict{Field: r.field, Pod: r.have, Policy: r.want, To: r.changeTo, Action: a}
}
