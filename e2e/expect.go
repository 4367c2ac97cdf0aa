//go:build e2e

package e2e

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// expectation is what the webhook must do to a runtime pod of a namespace
// with the given labels in a pool of the given shape.
type expectation struct {
	labels map[string]string
	ns     policy.Namespace
	budget policy.Budget
	size   policy.Sizing
}

// expectFor computes, with the policy package, what a runtime pod of a
// namespace labelled labels gets in the pool's current shape.
func expectFor(labels map[string]string, nodes []poolNode) (expectation, error) {
	ns, optedIn, err := policy.Parse(labels)
	if err != nil || !optedIn {
		return expectation{}, fmt.Errorf("labels %v: opted in %v, %v", labels, optedIn, err)
	}
	b, err := budgetOf(nodes)
	if err != nil {
		return expectation{}, err
	}
	return expectation{labels: labels, ns: ns, budget: b, size: policy.Size(ns, b)}, nil
}

func (e expectation) String() string {
	return fmt.Sprintf("pattern %s pool %s: request %s limit %s workers %d (budget %+v)", e.ns.Pattern, e.ns.Pool,
		policy.MilliString(e.size.CPURequestMilli), policy.MilliString(e.size.CPULimitMilli), e.size.Workers, e.budget)
}

// runtimeContainer returns the suite's runtime container of p.
func runtimeContainer(p *corev1.Pod) *corev1.Container {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == runtimeContainerName {
			return &p.Spec.Containers[i]
		}
	}
	return nil
}

// envValue returns the literal value of env variable name in c.
func envValue(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom == nil {
			return e.Value, true
		}
	}
	return "", false
}

func envCount(c *corev1.Container, name string) int {
	n := 0
	for _, e := range c.Env {
		if e.Name == name {
			n++
		}
	}
	return n
}

// hasPoolToleration reports whether p tolerates the pool's NoSchedule taint.
func hasPoolToleration(p *corev1.Pod, pool string) bool {
	for _, t := range p.Spec.Tolerations {
		if t.Key != policy.NodePoolKey || (t.Effect != "" && t.Effect != corev1.TaintEffectNoSchedule) {
			continue
		}
		switch t.Operator {
		case corev1.TolerationOpExists:
			return true
		case corev1.TolerationOpEqual, "":
			if t.Value == pool {
				return true
			}
		}
	}
	return false
}

// mutationProblems lists how p differs from what e says the webhook sets;
// fields the caller set itself (conflicts) are skipped via skipEnv.
func mutationProblems(p *corev1.Pod, e expectation, skipEnv ...string) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	pool := e.ns.Pool
	if !hasPoolToleration(p, pool) {
		bad("no toleration for %s=%s:NoSchedule (tolerations %v)", policy.NodePoolKey, pool, p.Spec.Tolerations)
	}
	if got := p.Spec.NodeSelector[policy.NodePoolKey]; got != pool {
		bad("nodeSelector[%s] = %q, want %q", policy.NodePoolKey, got, pool)
	}
	wantSched := schedulerName
	if e.ns.Scheduler == policy.SchedulerDefault {
		wantSched = corev1.DefaultSchedulerName
	}
	if p.Spec.SchedulerName != wantSched {
		bad("schedulerName = %q, want %q", p.Spec.SchedulerName, wantSched)
	}
	c := runtimeContainer(p)
	if c == nil {
		return append(probs, "no container named "+runtimeContainerName)
	}
	if got := c.Resources.Requests.Cpu().MilliValue(); got != e.size.CPURequestMilli {
		bad("CPU request = %dm, want %dm", got, e.size.CPURequestMilli)
	}
	if got := c.Resources.Limits.Cpu().MilliValue(); got != e.size.CPULimitMilli {
		bad("CPU limit = %dm, want %dm", got, e.size.CPULimitMilli)
	}
	skip := map[string]bool{}
	for _, s := range skipEnv {
		skip[s] = true
	}
	for _, name := range []string{"WEB_CONCURRENCY", "MAX_WORKERS"} {
		if skip[name] {
			continue
		}
		if v, ok := envValue(c, name); !ok || v != strconv.Itoa(e.size.Workers) {
			bad("env %s = %q (set %v), want %d", name, v, ok, e.size.Workers)
		}
		if n := envCount(c, name); n != 1 {
			bad("env %s appears %d times", name, n)
		}
	}
	raw, ok := p.Annotations[policy.AnnotationPolicy]
	if !ok {
		return append(probs, "no "+policy.AnnotationPolicy+" annotation")
	}
	a, pl, err := policy.ParseAnnotation(raw)
	if err != nil {
		return append(probs, err.Error())
	}
	if a.Pattern != e.ns.Pattern || a.Pool != pool || a.Mode != e.ns.Mode || a.Conflict != e.ns.Conflict {
		bad("annotation pattern/pool/mode/conflict = %s/%s/%s/%s, want %s/%s/%s/%s", a.Pattern, a.Pool, a.Mode, a.Conflict,
			e.ns.Pattern, pool, e.ns.Mode, e.ns.Conflict)
	}
	if pl.CPURequestMilli != e.size.CPURequestMilli || pl.CPULimitMilli != e.size.CPULimitMilli {
		bad("annotation CPU %dm/%dm, want %dm/%dm", pl.CPURequestMilli, pl.CPULimitMilli, e.size.CPURequestMilli, e.size.CPULimitMilli)
	}
	if want := map[bool]string{true: schedulerName, false: ""}[e.ns.Scheduler == policy.SchedulerHdscale]; a.Scheduler != want {
		bad("annotation scheduler = %q, want %q", a.Scheduler, want)
	}
	if a.Workers != e.size.Workers {
		bad("annotation workers = %d, want %d", a.Workers, e.size.Workers)
	}
	if a.NodeCPU != policy.MilliString(e.size.NodeCPUMilli) || a.SizedFrom != e.size.Source {
		bad("annotation nodeCPU %s sizedFrom %s, want %s %s", a.NodeCPU, a.SizedFrom, policy.MilliString(e.size.NodeCPUMilli), e.size.Source)
	}
	if want := policy.LabelsHash(e.labels); a.LabelsHash != want {
		bad("annotation labelsHash = %q, want %q", a.LabelsHash, want)
	}
	return probs
}

// untouchedProblems lists the ways the stored pod got differs from the pod
// sent, as far as hdscale could have changed it (the API server's own
// defaulting aside).
func untouchedProblems(got, sent *corev1.Pod, allowAnnotations ...string) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	allowed := map[string]bool{}
	for _, a := range allowAnnotations {
		allowed[a] = true
	}
	for k, v := range got.Annotations {
		if strings.HasPrefix(k, policy.Prefix) && !allowed[k] && sent.Annotations[k] != v {
			bad("annotation %s=%s added", k, truncate(v, 200))
		}
	}
	if hasPoolToleration(got, poolName) && !hasPoolToleration(sent, poolName) {
		bad("pool toleration added: %v", got.Spec.Tolerations)
	}
	if len(got.Spec.NodeSelector) != len(sent.Spec.NodeSelector) {
		bad("nodeSelector changed: %v", got.Spec.NodeSelector)
	}
	wantSched := sent.Spec.SchedulerName
	if wantSched == "" {
		wantSched = corev1.DefaultSchedulerName
	}
	if got.Spec.SchedulerName != wantSched {
		bad("schedulerName = %q, want %q", got.Spec.SchedulerName, wantSched)
	}
	if len(got.Spec.Containers) != len(sent.Spec.Containers) {
		return append(probs, fmt.Sprintf("%d containers, sent %d", len(got.Spec.Containers), len(sent.Spec.Containers)))
	}
	for i := range sent.Spec.Containers {
		g, s := &got.Spec.Containers[i], &sent.Spec.Containers[i]
		if !g.Resources.Requests.Cpu().Equal(*s.Resources.Requests.Cpu()) || !g.Resources.Limits.Cpu().Equal(*s.Resources.Limits.Cpu()) {
			bad("container %s CPU changed to requests %v limits %v", g.Name, g.Resources.Requests.Cpu(), g.Resources.Limits.Cpu())
		}
		if envString(g) != envString(s) {
			bad("container %s env changed: %s (sent %s)", g.Name, envString(g), envString(s))
		}
	}
	return probs
}

func envString(c *corev1.Container) string {
	parts := make([]string, 0, len(c.Env))
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			v = "(valueFrom)"
		}
		parts = append(parts, e.Name+"="+v)
	}
	return strings.Join(parts, ",")
}
