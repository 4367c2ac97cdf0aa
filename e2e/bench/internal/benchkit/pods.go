package benchkit

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/hdscale/hdscale/internal/policy"
)

// LabelApp is the label every benchmark runtime pod carries (app=runtime).
const LabelApp = "app"

// RuntimePod describes the runtime pods of one benchmark batch: what the
// hdscale webhook would have produced for a namespace with the given pattern.
type RuntimePod struct {
	Namespace     string
	Pool          string
	Pattern       policy.Pattern
	NodeCPUMilli  int64
	SchedulerName string
	// Bench is the value of LabelBench on the pods.
	Bench string
}

// Sizing is the per-pod CPU the webhook gives this pattern in this pool.
func (r RuntimePod) Sizing() policy.Sizing {
	ns := policy.Namespace{Pattern: r.Pattern, Pool: r.Pool, WorkersPerCore: policy.DefaultWorkersPerCore}
	return policy.Size(ns, policy.Budget{NodeCPUMilli: r.NodeCPUMilli, Containers: 1, Source: policy.SizedFromPool})
}

// Template is the pod template: the pool's toleration and node selector, CPU
// request = limit from the pattern's sizing, the hdscale.io/policy annotation
// (as the webhook encodes it) and schedulerName. KWOK never runs the image.
func (r RuntimePod) Template() corev1.PodTemplateSpec {
	s := r.Sizing()
	ns := policy.Namespace{
		Pattern: r.Pattern, Pool: r.Pool, Conflict: policy.ConflictFill, Mode: policy.ModeEnforce,
		WorkersPerCore: policy.DefaultWorkersPerCore, Scheduler: policy.SchedulerHdscale,
	}
	cpu := *resource.NewMilliQuantity(s.CPURequestMilli, resource.DecimalSI)
	lim := *resource.NewMilliQuantity(s.CPULimitMilli, resource.DecimalSI)
	mem := resource.MustParse("256Mi")
	zero := int64(0)
	automount := false
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels: map[string]string{LabelApp: "runtime", LabelBench: r.Bench},
			Annotations: map[string]string{
				policy.AnnotationPolicy: policy.NewAnnotation(ns, s, []string{"runtime"}, r.SchedulerName).Encode(),
			},
		},
		Spec: corev1.PodSpec{
			SchedulerName:                 r.SchedulerName,
			NodeSelector:                  map[string]string{policy.NodePoolKey: r.Pool},
			Tolerations:                   []corev1.Toleration{{Key: policy.NodePoolKey, Operator: corev1.TolerationOpEqual, Value: r.Pool, Effect: corev1.TaintEffectNoSchedule}},
			TerminationGracePeriodSeconds: &zero,
			AutomountServiceAccountToken:  &automount,
			Containers: []corev1.Container{{
				Name:  "runtime",
				Image: "hdscale/fakeruntime:dev",
				Env:   []corev1.EnvVar{{Name: "WEB_CONCURRENCY", Value: fmt.Sprint(s.Workers)}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: lim, corev1.ResourceMemory: mem},
				},
			}},
		},
	}
}

// Pod is one pod of the batch named name.
func (r RuntimePod) Pod(name string) *corev1.Pod {
	t := r.Template()
	t.ObjectMeta.Name, t.ObjectMeta.Namespace = name, r.Namespace
	return &corev1.Pod{ObjectMeta: t.ObjectMeta, Spec: t.Spec}
}

// EnsureNamespace creates the namespace if it is missing and waits for its
// default ServiceAccount (the ServiceAccount admission plugin needs it).
func EnsureNamespace(ctx context.Context, c *Clients, name string) error {
	_, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{LabelBench: "ns"},
	}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := c.Kube.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

// DeletePods force-deletes the pods of namespace ns that match the label
// selector sel and waits until none is left. A DeleteCollection of many
// pods can outlast the API server's request timeout on a busy machine, so a
// failed call is repeated (it resumes where the last one stopped) until the
// pods are gone or the timeout passes.
func DeletePods(ctx context.Context, c *Clients, ns, sel string, timeout time.Duration) error {
	zero := int64(0)
	deadline := time.Now().Add(timeout)
	left := -1
	var lastErr error
	for {
		err := c.Kube.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			lastErr = err
		}
		// Wait for the deletions to land; retry the call if pods remain.
		_ = wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
			l, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				return false, nil
			}
			left = len(l.Items)
			return left == 0, nil
		})
		if left == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d pods %s/%s still there after %s (last delete error: %v)", left, ns, sel, timeout, lastErr)
		}
	}
}
