package pool

import (
	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
)

// PodCPURequestMilli is the CPU a pod requests from its node as
// kube-scheduler counts it (k8s.io/component-helpers resource.PodRequests):
// pod-level resources when set, else the larger of the containers plus
// restartable init containers (native sidecars) and the peak of the init
// sequence; plus the pod overhead. A container that sets a CPU limit but no
// request counts its limit, as the API server defaults the request of a
// created pod to the limit (pod templates, e.g. of DaemonSets, are not
// defaulted that way).
func PodCPURequestMilli(pod *corev1.Pod) int64 {
	if needsDefaulting(pod.Spec.Containers) || needsDefaulting(pod.Spec.InitContainers) {
		p := &corev1.Pod{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec}
		p.Spec.Containers = defaulted(pod.Spec.Containers)
		p.Spec.InitContainers = defaulted(pod.Spec.InitContainers)
		pod = p
	}
	reqs := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{SkipPodLevelResources: false})
	q := reqs[corev1.ResourceCPU]
	return ClampMilli(q.MilliValue())
}

// SpecCPURequestMilli is PodCPURequestMilli of a pod with spec (a template).
func SpecCPURequestMilli(spec *corev1.PodSpec) int64 {
	return PodCPURequestMilli(&corev1.Pod{Spec: *spec})
}

// OtherCPURequestMilli is what pod requests beside its runtime containers
// (the indexes in spec.containers) while it runs: its other containers,
// restartable init containers (native sidecars) and overhead, as
// PodCPURequestMilli counts them. Plain init containers run before the
// runtime starts and end: they raise the pod's request only when their peak
// exceeds everything that runs after them, which a whole-node runtime
// container never lets happen. Pod-level resources are ignored: hdscale sizes
// containers, and a pod that sets pod-level CPU requests decides its total.
func OtherCPURequestMilli(pod *corev1.Pod, runtime []int) int64 {
	spec := corev1.PodSpec{
		Containers: make([]corev1.Container, len(pod.Spec.Containers)),
		Overhead:   pod.Spec.Overhead,
	}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			spec.InitContainers = append(spec.InitContainers, c)
		}
	}
	copy(spec.Containers, pod.Spec.Containers)
	for _, i := range runtime {
		if i >= 0 && i < len(spec.Containers) {
			spec.Containers[i] = corev1.Container{Name: spec.Containers[i].Name}
		}
	}
	return SpecCPURequestMilli(&spec)
}

func needsDefaulting(cs []corev1.Container) bool {
	for i := range cs {
		if _, ok := cs[i].Resources.Requests[corev1.ResourceCPU]; ok {
			continue
		}
		if _, ok := cs[i].Resources.Limits[corev1.ResourceCPU]; ok {
			return true
		}
	}
	return false
}

// defaulted copies cs with each CPU request defaulted to the CPU limit.
func defaulted(cs []corev1.Container) []corev1.Container {
	if !needsDefaulting(cs) {
		return cs
	}
	out := make([]corev1.Container, len(cs))
	copy(out, cs)
	for i := range out {
		c := &out[i]
		if _, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
			continue
		}
		if lim, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
			reqs := make(corev1.ResourceList, len(c.Resources.Requests)+1)
			for k, v := range c.Resources.Requests {
				reqs[k] = v
			}
			reqs[corev1.ResourceCPU] = lim
			c.Resources.Requests = reqs
		}
	}
	return out
}
