//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Labels of hetida designer's Helm chart that the webhook's label rule matches.
const (
	labelAppName      = "app.kubernetes.io/name"
	labelAppComponent = "app.kubernetes.io/component"
	hetidaName        = "hetida-designer"
)

// workloadLabel selects the pods of one test workload.
const workloadLabel = "e2e.hdscale.io/workload"

// How long a Deployment's pods may take to become Ready on the pool.
const podsReadyTimeout = 3 * time.Minute

// runtimeContainerName is the name the suite gives the runtime container.
const runtimeContainerName = "runtime"

// podTemplate is a fake-runtime pod template: the given image and labels,
// readiness on GET /engine/info, the downward-API variables the fake reports,
// a short grace period so cleanups do not wait.
func podTemplate(workload, image string, labels map[string]string, env ...corev1.EnvVar) corev1.PodTemplateSpec {
	l := map[string]string{workloadLabel: workload}
	for k, v := range labels {
		l[k] = v
	}
	fieldEnv := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	c := corev1.Container{
		Name:            runtimeContainerName,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: runtimePortNumber}},
		Env: append([]corev1.EnvVar{
			fieldEnv("POD_NAME", "metadata.name"),
			fieldEnv("POD_NAMESPACE", "metadata.namespace"),
			fieldEnv("NODE_NAME", "spec.nodeName"),
		}, env...),
		ReadinessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/engine/info", Port: intstr.FromInt32(runtimePortNumber),
			}},
			PeriodSeconds:    1,
			FailureThreshold: 3,
		},
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: l},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{c},
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			EnableServiceLinks:            ptr.To(false),
		},
	}
}

// runtimeTemplate is a hetida designer runtime as the Helm chart deploys it:
// the runtime image (the fake under hetida/designer-runtime), matched by image.
func runtimeTemplate(workload string, env ...corev1.EnvVar) corev1.PodTemplateSpec {
	return podTemplate(workload, suite.images.FakeRuntimeAsHetida, nil, env...)
}

// labelMatchedTemplate is a runtime under another image name, recognised by
// the chart's labels only.
func labelMatchedTemplate(workload string, env ...corev1.EnvVar) corev1.PodTemplateSpec {
	return podTemplate(workload, suite.images.FakeRuntime,
		map[string]string{labelAppName: hetidaName, labelAppComponent: "runtime"}, env...)
}

// backendTemplate is hetida designer's backend: same namespace, chart labels
// with component=backend, not a runtime.
func backendTemplate(workload string) corev1.PodTemplateSpec {
	return podTemplate(workload, suite.images.FakeRuntime,
		map[string]string{labelAppName: hetidaName, labelAppComponent: "backend"},
		corev1.EnvVar{Name: "HD_IS_BACKEND_SERVICE", Value: "true"})
}

// podFrom turns a template into a standalone pod (for dry-run creates).
func podFrom(ns, name string, tmpl corev1.PodTemplateSpec) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: tmpl.Labels, Annotations: tmpl.Annotations},
		Spec:       *tmpl.Spec.DeepCopy(),
	}
}

func deploymentOf(ns, name string, replicas int32, tmpl corev1.PodTemplateSpec) *appsv1.Deployment {
	tmpl.Labels[workloadLabel] = name
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{workloadLabel: name}},
			Template: tmpl,
			// Scaling and deleting must not leave surplus pods around.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
		},
	}
}

// dryRunCreate creates pod with DryRun=All through client (which may collect
// warnings) and returns what the API server would have stored.
func dryRunCreate(t *testing.T, client kubernetes.Interface, pod *corev1.Pod) (*corev1.Pod, error) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	return client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
}

// mustDryRunCreate is dryRunCreate that fails the test on error.
func mustDryRunCreate(t *testing.T, client kubernetes.Interface, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	got, err := dryRunCreate(t, client, pod)
	if err != nil {
		t.Fatalf("dry-run create of pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return got
}

func createDeployment(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	if _, err := suite.client.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Deployment %s/%s: %v", d.Namespace, d.Name, err)
	}
}

// scaleDeployment sets the Deployment's replicas (a merge patch of the
// scale subresource: no resourceVersion to conflict with the controller).
func scaleDeployment(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	patch := []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas))
	if _, err := suite.client.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}, "scale"); err != nil {
		t.Fatalf("scaling %s/%s to %d: %v", ns, name, replicas, err)
	}
}

// workloadPods lists the workload's pods that are not being deleted, by name.
func workloadPods(ctx context.Context, ns, workload string) ([]corev1.Pod, error) {
	l, err := suite.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: workloadLabel + "=" + workload})
	if err != nil {
		return nil, err
	}
	var pods []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			pods = append(pods, p)
		}
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods, nil
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podScheduled(p *corev1.Pod) bool { return p.Spec.NodeName != "" }

// podStates is a one-line summary of pods for "last seen" messages.
func podStates(pods []corev1.Pod) string {
	if len(pods) == 0 {
		return "no pods"
	}
	parts := make([]string, 0, len(pods))
	for _, p := range pods {
		state := string(p.Status.Phase)
		if podReady(&p) {
			state = "Ready"
		}
		node := p.Spec.NodeName
		if node == "" {
			node = "-"
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
					node = "unscheduled: " + truncate(c.Message, 160)
				}
			}
		}
		parts = append(parts, fmt.Sprintf("%s %s on %s", p.Name, state, node))
	}
	return strings.Join(parts, "; ")
}

// waitWorkloadReady waits until the workload has exactly n pods, all Ready,
// and returns them.
func waitWorkloadReady(t *testing.T, ns, workload string, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	waitFor(t, podsReadyTimeout, fmt.Sprintf("%d ready pods of %s/%s", n, ns, workload), func(ctx context.Context) (bool, string, error) {
		var err error
		pods, err = workloadPods(ctx, ns, workload)
		if err != nil {
			return false, "", err
		}
		ready := 0
		for i := range pods {
			if podReady(&pods[i]) {
				ready++
			}
		}
		return len(pods) == n && ready == n, podStates(pods), nil
	})
	return pods
}

// deleteWorkload scales the Deployment to 0, waits until its pods are gone
// (not merely terminating), so the pool is free for the next test, and
// deletes it. Scaling first means no replacement pod is created (and
// scheduled) while the pods are being deleted.
func deleteWorkload(t *testing.T, ns, name string) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	patch := []byte(`{"spec":{"replicas":0}}`)
	_, err := suite.client.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}, "scale")
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("scaling %s/%s to 0: %v", ns, name, err)
	}
	waitPodsGone(t, ns, workloadLabel+"="+name)
	err = suite.client.AppsV1().Deployments(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting Deployment %s/%s: %v", ns, name, err)
	}
}

// waitPodsGone waits until no pod matching selector exists in ns.
func waitPodsGone(t *testing.T, ns, selector string) {
	t.Helper()
	waitFor(t, 2*time.Minute, fmt.Sprintf("pods %s in %s to be gone", selector, ns), func(ctx context.Context) (bool, string, error) {
		l, err := suite.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, "", err
		}
		return len(l.Items) == 0, podStates(l.Items), nil
	})
}

// runWorkload creates a Deployment and registers a cleanup that deletes it
// and waits until its pods are gone.
func runWorkload(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	createDeployment(t, d)
	t.Cleanup(func() {
		if t.Failed() {
			dumpNamespace(t, d.Namespace)
		}
		deleteWorkload(t, d.Namespace, d.Name)
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func envVar(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }
