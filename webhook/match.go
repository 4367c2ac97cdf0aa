package webhook

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// MatchedBy says why a pod is a runtime pod.
type MatchedBy string

const (
	// MatchedByContainer: a container's image or env matched Config.Runtime.
	MatchedByContainer MatchedBy = "container"
	// MatchedByLabels: only the pod's labels matched Config.PodLabels.
	MatchedByLabels MatchedBy = "labels"
)

// Match is the result of matching a pod against the Config.
type Match struct {
	// Runtime is true for a hetida designer runtime pod.
	Runtime bool
	By      MatchedBy
	// Containers are the indexes in spec.containers of the runtime
	// containers, the only ones sized. Init containers are never included.
	Containers []int
	// Previous is true when Containers are the ones an earlier hdscale
	// decision on the pod named (its hdscale.io/policy annotation).
	Previous bool
}

// Matcher applies a Config to pods. Create it with NewMatcher.
type Matcher struct {
	cfg Config
}

// NewMatcher returns a Matcher for cfg (which must be valid).
func NewMatcher(cfg Config) *Matcher { return &Matcher{cfg: cfg} }

// Match decides whether pod is a runtime pod and which containers are sized:
// the containers that Runtime matches and NotRuntime does not; when there are
// none but the pod carries every PodLabels label, the first container that
// NotRuntime does not exclude (a labels-only match).
//
// When a runtime pod carries an earlier hdscale decision (reinvocation after
// other webhooks changed the pod, or a pod made from a template copied from a
// decided pod), the containers that decision names and that still exist and
// are not excluded are the runtime containers instead: whatever containers
// other webhooks added or reordered, only those are touched.
func (m *Matcher) Match(pod *corev1.Pod) Match {
	mt := m.match(pod)
	if !mt.Runtime {
		return mt
	}
	if idx := m.previousContainers(pod); len(idx) > 0 {
		mt.Containers, mt.Previous = idx, true
	}
	return mt
}

// previousContainers are the indexes of the containers named by the pod's
// hdscale.io/policy annotation that exist and NotRuntime does not exclude.
func (m *Matcher) previousContainers(pod *corev1.Pod) []int {
	v, ok := pod.Annotations[policy.AnnotationPolicy]
	if !ok {
		return nil
	}
	a, _, err := policy.ParseAnnotation(v)
	if err != nil || len(a.Containers) == 0 {
		return nil
	}
	var idx []int
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if slices.Contains(a.Containers, c.Name) && !m.matches(c, m.cfg.NotRuntime) {
			idx = append(idx, i)
		}
	}
	return idx
}

func (m *Matcher) match(pod *corev1.Pod) Match {
	var idx []int
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if m.matches(c, m.cfg.Runtime) && !m.matches(c, m.cfg.NotRuntime) {
			idx = append(idx, i)
		}
	}
	if len(idx) > 0 {
		return Match{Runtime: true, By: MatchedByContainer, Containers: idx}
	}
	if !m.labelsMatch(pod.Labels) {
		return Match{}
	}
	for i := range pod.Spec.Containers {
		if !m.matches(&pod.Spec.Containers[i], m.cfg.NotRuntime) {
			return Match{Runtime: true, By: MatchedByLabels, Containers: []int{i}}
		}
	}
	return Match{}
}

func (m *Matcher) labelsMatch(labels map[string]string) bool {
	if len(m.cfg.PodLabels) == 0 {
		return false
	}
	for k, v := range m.cfg.PodLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// matches reports whether c's image or env matches r.
func (m *Matcher) matches(c *corev1.Container, r Rules) bool {
	if len(r.Images) > 0 {
		repo := ImageRepository(c.Image)
		for _, img := range r.Images {
			if repositoryMatches(repo, img) {
				return true
			}
		}
	}
	for _, rule := range r.Env {
		for i := range c.Env {
			e := &c.Env[i]
			if e.Name != rule.Name || e.ValueFrom != nil {
				continue
			}
			v := strings.TrimSpace(e.Value)
			for _, want := range rule.Values {
				if strings.EqualFold(v, want) {
					return true
				}
			}
		}
	}
	return false
}
