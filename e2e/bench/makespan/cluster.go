package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/hdscale/hdscale/e2e/bench/internal/benchkit"
	"github.com/hdscale/hdscale/internal/policy"
)

const (
	appLabel    = "makespan-runtime"
	runtimePort = 8090
)

func namespace(v variant) string { return "makespan-" + v.Name }

// poolNodes lists the pool's nodes by name.
func poolNodes(ctx context.Context, c *benchkit.Clients, pool string) ([]string, error) {
	l, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: policy.NodePoolKey + "=" + pool})
	if err != nil {
		return nil, fmt.Errorf("listing pool nodes: %w", err)
	}
	var out []string
	for _, n := range l.Items {
		out = append(out, n.Name)
	}
	sort.Strings(out)
	if len(out) < 2 {
		return nil, fmt.Errorf("pool %s has %d nodes; the benchmark needs at least 2", pool, len(out))
	}
	return out, nil
}

// ensureNamespace creates the variant's namespace with the pattern's hdscale
// labels, or sets them on an existing one.
func ensureNamespace(ctx context.Context, c *benchkit.Clients, o options, v variant) error {
	labels := map[string]string{
		benchkit.LabelBench:   "makespan",
		policy.LabelPattern:   string(o.Pattern),
		policy.LabelPool:      o.Pool,
		policy.LabelScheduler: v.Scheduler,
	}
	if o.CPU != "" {
		labels[policy.LabelCPU] = o.CPU
	}
	if o.WorkersPer > 0 {
		labels[policy.LabelWorkersPerCore] = strconv.Itoa(o.WorkersPer)
	}
	ns := namespace(v)
	cur, err := c.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}, metav1.CreateOptions{})
	case err == nil:
		for _, k := range []string{policy.LabelCPU, policy.LabelWorkersPerCore} {
			delete(cur.Labels, k)
		}
		if cur.Labels == nil {
			cur.Labels = map[string]string{}
		}
		for k, val := range labels {
			cur.Labels[k] = val
		}
		_, err = c.Kube.CoreV1().Namespaces().Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := c.Kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

// runtimeDeployment is the runtime as hetida's chart would deploy it, without
// any placement or sizing: the webhook adds those (the same for both
// variants but schedulerName).
func runtimeDeployment(ns, image string, replicas int) *appsv1.Deployment {
	r := int32(replicas)
	zero := int64(0)
	labels := map[string]string{"app": appLabel}
	env := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "runtime", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &r,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &zero,
					Containers: []corev1.Container{{
						Name:            "runtime",
						Image:           image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Env:             []corev1.EnvVar{env("NODE_NAME", "spec.nodeName"), env("POD_NAME", "metadata.name")},
						Ports:           []corev1.ContainerPort{{ContainerPort: runtimePort}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/engine/info", Port: intstr.FromInt32(runtimePort)}},
							PeriodSeconds: 1,
						},
					}},
				},
			},
		},
	}
}

func ensureService(ctx context.Context, c *benchkit.Clients, ns string) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "runtime", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": appLabel},
			Ports:    []corev1.ServicePort{{Port: runtimePort, TargetPort: intstr.FromInt32(runtimePort)}},
		},
	}
	_, err := c.Kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating service %s/runtime: %w", ns, err)
	}
	return nil
}

// placed is where a variant's replicas run and how the webhook sized them.
type placed struct {
	PodNode     map[string]string
	PerNode     []int
	Workers     int
	LimitCores  float64
	RequestMili int64
	Scheduler   string
}

// deployRuntime creates the Deployment and waits until all replicas are
// ready and the Service has them all as endpoints.
func deployRuntime(ctx context.Context, c *benchkit.Clients, o options, v variant, nodes []string) (placed, error) {
	ns := namespace(v)
	var p placed
	if _, err := c.Kube.AppsV1().Deployments(ns).Create(ctx, runtimeDeployment(ns, o.RuntimeImage, o.Replicas), metav1.CreateOptions{}); err != nil {
		return p, fmt.Errorf("creating deployment %s/runtime: %w", ns, err)
	}
	var pods []corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, o.Timeout, true, func(ctx context.Context) (bool, error) {
		l, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + appLabel})
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, pod := range l.Items {
			if pod.DeletionTimestamp == nil && podReady(&pod) {
				ready++
			}
		}
		pods = l.Items
		return ready == o.Replicas && len(l.Items) == o.Replicas, nil
	})
	if err != nil {
		return p, fmt.Errorf("%d runtime replicas in %s not ready after %s: %s", o.Replicas, ns, o.Timeout, podStates(pods))
	}
	idx := map[string]int{}
	for i, n := range nodes {
		idx[n] = i
	}
	p.PodNode = map[string]string{}
	p.PerNode = make([]int, len(nodes))
	for _, pod := range pods {
		i, ok := idx[pod.Spec.NodeName]
		if !ok {
			return p, fmt.Errorf("pod %s/%s runs on %s, outside pool %s", ns, pod.Name, pod.Spec.NodeName, o.Pool)
		}
		p.PodNode[pod.Name] = pod.Spec.NodeName
		p.PerNode[i]++
		ctr := pod.Spec.Containers[0]
		p.Scheduler = pod.Spec.SchedulerName
		p.LimitCores = float64(ctr.Resources.Limits.Cpu().MilliValue()) / 1000
		p.RequestMili = ctr.Resources.Requests.Cpu().MilliValue()
		for _, e := range ctr.Env {
			if e.Name == "WEB_CONCURRENCY" {
				p.Workers, _ = strconv.Atoi(e.Value)
			}
		}
	}
	if p.Workers < 1 || p.LimitCores <= 0 {
		return p, fmt.Errorf("runtime pods in %s are not sized (workers %d, limit %v): is the webhook matching the image %s?", ns, p.Workers, p.LimitCores, o.RuntimeImage)
	}
	return p, waitEndpoints(ctx, c, ns, o.Replicas, o.Timeout)
}

func waitEndpoints(ctx context.Context, c *benchkit.Clients, ns string, want int, timeout time.Duration) error {
	err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		l, err := c.Kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=runtime"})
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, s := range l.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					ready++
				}
			}
		}
		return ready == want, nil
	})
	if err != nil {
		return fmt.Errorf("service %s/runtime: %d ready endpoints not reached: %w", ns, want, err)
	}
	return nil
}

// deleteRuntime deletes the Deployment and the client pod and waits until
// their pods are gone.
func deleteRuntime(ctx context.Context, c *benchkit.Clients, ns string) error {
	err := c.Kube.AppsV1().Deployments(ns).Delete(ctx, "runtime", metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting deployment %s/runtime: %w", ns, err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := c.Kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + appLabel})
		return err == nil && len(l.Items) == 0, nil
	}); err != nil {
		return fmt.Errorf("replica sets of %s/runtime still there: %w", ns, err)
	}
	if err := benchkit.DeletePods(ctx, c, ns, "app="+appLabel, 2*time.Minute); err != nil {
		return err
	}
	return benchkit.DeletePods(ctx, c, ns, "app=makespan-client", 2*time.Minute)
}

// runClient runs execload in a pod of ns against the runtime Service and
// returns its output; onRunning and onDone are called when the pod starts
// running and when it has finished (to sample node CPU around the batch).
func runClient(ctx context.Context, c *benchkit.Clients, o options, ns string, onRunning, onDone func()) (string, error) {
	zero := int64(0)
	timeout := o.Timeout + time.Duration(float64(o.Executions)*o.ExecCPU*10)*time.Second
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: ns, Labels: map[string]string{"app": "makespan-client"}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{
				Name:            "execload",
				Image:           o.ClientImage,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"/execload",
					"-url", fmt.Sprintf("http://runtime.%s.svc:%d", ns, runtimePort),
					"-executions", strconv.Itoa(o.Executions),
					"-cpu-seconds", strconv.FormatFloat(o.ExecCPU, 'g', -1, 64),
					"-connections", strconv.Itoa(o.Connections),
					"-timeout", timeout.String(),
				},
			}},
		},
	}
	if _, err := c.Kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("creating the client pod: %w", err)
	}
	running := false
	var phase corev1.PodPhase
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout+o.Timeout, true, func(ctx context.Context) (bool, error) {
		p, err := c.Kube.CoreV1().Pods(ns).Get(ctx, "client", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		phase = p.Status.Phase
		if !running && phase != corev1.PodPending {
			running = true
			onRunning()
		}
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, nil
	})
	onDone()
	if err != nil {
		return "", fmt.Errorf("client pod in %s did not finish (phase %s): %w", ns, phase, err)
	}
	rc, err := c.Kube.CoreV1().Pods(ns).GetLogs("client", &corev1.PodLogOptions{Container: "execload"}).Stream(ctx)
	if err != nil {
		return "", fmt.Errorf("client logs: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return "", fmt.Errorf("reading client logs: %w", err)
	}
	if phase == corev1.PodFailed {
		return string(b), fmt.Errorf("client pod failed: %.500s", b)
	}
	return string(b), nil
}

// nodeMetricsCores is the CPU metrics.k8s.io reports for the nodes (what the
// extender sees); -1 for a node without a sample.
func nodeMetricsCores(ctx context.Context, c *benchkit.Clients, nodes []string) []float64 {
	out := make([]float64, len(nodes))
	for i, n := range nodes {
		out[i] = -1
		if m, err := c.Metrics.MetricsV1beta1().NodeMetricses().Get(ctx, n, metav1.GetOptions{}); err == nil {
			out[i] = float64(m.Usage.Cpu().MilliValue()) / 1000
		}
	}
	return out
}

// waitBackground waits until NodeMetrics shows the background on the loaded
// node (at least 70 % of it) and no more than a quarter of it on the others,
// i.e. a previous batch or burner has left the metrics window.
func waitBackground(ctx context.Context, c *benchkit.Clients, nodes []string, loaded int, bg float64, timeout time.Duration) ([]float64, error) {
	var last []float64
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		last = nodeMetricsCores(ctx, c, nodes)
		for i, v := range last {
			if i == loaded && v < 0.7*bg || i != loaded && (v < 0 || v > 0.25*bg) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return last, fmt.Errorf("NodeMetrics %v of %v never showed the background %.2f on %s only: %w", last, nodes, bg, nodes[loaded], err)
	}
	return last, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podStates(pods []corev1.Pod) string {
	s := ""
	for _, p := range pods {
		s += fmt.Sprintf("%s on %q: %s ready=%v; ", p.Name, p.Spec.NodeName, p.Status.Phase, podReady(&p))
	}
	return s
}
