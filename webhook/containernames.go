package webhook

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// containerNameProblem explains why the pod's containers cannot be told
// apart by name ("" when they can). hdscale records the runtime containers
// by name in hdscale.io/policy and finds them again by it (re-admission,
// drift), so an empty or repeated name would make a second look size other
// containers than the first. The API server rejects such a pod anyway (every
// container name must be set and unique); the webhook sees it first, since
// mutating admission runs before validation.
func containerNameProblem(pod *corev1.Pod) string {
	seen := make(map[string]int, len(pod.Spec.Containers))
	for i := range pod.Spec.Containers {
		name := pod.Spec.Containers[i].Name
		if name == "" {
			return fmt.Sprintf("spec.containers[%d] has no name", i)
		}
		if j, dup := seen[name]; dup {
			return fmt.Sprintf("spec.containers[%d] and [%d] are both named %q", j, i, name)
		}
		seen[name] = i
	}
	return ""
}
