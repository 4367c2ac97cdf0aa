//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestPrivateEndpoints checks who may read hdscale's private endpoints, from
// pods in another namespace over the pod network (e2e/probe in the fake
// runtime image): no credentials get 401, a ServiceAccount without the grant
// 403, one bound to ClusterRole hdscale-metrics-reader 200; the health
// ports answer probes only. The suite's own reads (metrics in other tests,
// kubectl hdscale explain) authenticate with the kind admin's client
// certificate through port-forwards, the x509 path.
func TestPrivateEndpoints(t *testing.T) {
	g := group(t)
	ctx := testContext(t)
	ns := newNamespace(t, "access", nil, nsOptions{})
	var urls []string
	var webhookPods []string
	for _, d := range []string{webhookDeployment, schedulerDeploy} {
		dep, err := suite.client.AppsV1().Deployments(systemNamespace).Get(ctx, d, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pods, err := deploymentPods(ctx, dep)
		if err != nil || len(pods) == 0 {
			t.Fatalf("pods of %s: %d, %v", d, len(pods), err)
		}
		ip := pods[0].Status.PodIP
		if d == webhookDeployment {
			webhookPods = append(webhookPods, pods[0].Name)
			urls = append(urls, fmt.Sprintf("https://%s:%d/metrics", ip, webhookPrivatePort), fmt.Sprintf("http://%s:8081/metrics", ip))
		} else {
			urls = append(urls, fmt.Sprintf("https://%s:%d/metrics", ip, extenderPrivatePort), fmt.Sprintf("https://%s:%d/explain", ip, extenderPrivatePort),
				fmt.Sprintf("http://%s:%s/explain", ip, extenderPort))
		}
	}
	before, err := privateRequests(ctx, webhookPods[0])
	if err != nil {
		t.Fatal(err)
	}

	// reader is granted the ClusterRole; nobody is not.
	for _, sa := range []string{"reader", "nobody"} {
		if _, err := suite.client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-reader", Labels: map[string]string{e2eLabel: "true"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "hdscale-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "reader", Namespace: ns}},
	}
	if _, err := suite.client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = suite.client.RbacV1().ClusterRoleBindings().Delete(context.Background(), crb.Name, metav1.DeleteOptions{})
	})

	// Written out: the private ports answer 401/403/200 by identity; the
	// health ports serve no metrics and no explain to anyone (404).
	want := map[string][]string{
		"anonymous": {"401", "404", "401", "401", "404"},
		"nobody":    {"403", "404", "403", "403", "404"},
		"reader":    {"200", "404", "200", "200", "404"},
	}
	for _, who := range []string{"anonymous", "nobody", "reader"} {
		g.step(t, who, func(t *testing.T) {
			got := runProbe(t, ns, who, urls)
			for i, u := range urls {
				if got[u] != want[who][i] {
					t.Errorf("%s: GET %s = %s, want %s", who, u, got[u], want[who][i])
				}
			}
		})
	}
	g.step(t, "decisions counted", func(t *testing.T) {
		after, err := privateRequests(ctx, webhookPods[0])
		if err != nil {
			t.Fatal(err)
		}
		// One probe per identity reached this webhook pod's /metrics.
		for d, n := range map[string]float64{"unauthenticated": 1, "forbidden": 1} {
			if after[d]-before[d] < n {
				t.Errorf("hdscale_private_requests_total{decision=%q} rose by %v, want >= %v", d, after[d]-before[d], n)
			}
		}
	})
}

// privateRequests reads hdscale_private_requests_total of one webhook pod by
// decision.
func privateRequests(ctx context.Context, pod string) (map[string]float64, error) {
	b, err := privateGet(ctx, systemNamespace, pod, webhookPrivatePort, "/metrics", nil)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for series, v := range parsePrometheusText(string(b)) {
		if d, ok := strings.CutPrefix(series, `hdscale_private_requests_total{decision="`); ok {
			out[strings.TrimSuffix(d, `"}`)] = v
		}
	}
	return out, nil
}

// runProbe runs `probe get` against urls in a pod of ns as identity who
// ("anonymous": no token mounted; otherwise that ServiceAccount's token) and
// returns each URL's status.
func runProbe(t *testing.T, ns, who string, urls []string) map[string]string {
	t.Helper()
	args := []string{"get", "-url", strings.Join(urls, ",")}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probe-" + who},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(who != "anonymous"),
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []corev1.Container{{
				Name: "probe", Image: suite.images.FakeRuntime, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"/probe"},
			}},
		},
	}
	if who != "anonymous" {
		pod.Spec.ServiceAccountName = who
		args = append(args, "-token-file", "/var/run/secrets/kubernetes.io/serviceaccount/token")
	}
	pod.Spec.Containers[0].Args = args
	logs := runToCompletion(t, ns, pod, 90*time.Second)
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(logs)), "\n") {
		if u, status, ok := strings.Cut(line, " "); ok {
			got[u] = status
		}
	}
	if len(got) != len(urls) {
		t.Fatalf("probe %s printed %q", who, logs)
	}
	return got
}

// runToCompletion creates pod in ns, waits until it has Succeeded or Failed
// and returns its log.
func runToCompletion(t *testing.T, ns string, pod *corev1.Pod, timeout time.Duration) []byte {
	t.Helper()
	ctx := testContext(t)
	if _, err := suite.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, timeout, "pod "+pod.Name+" to finish", func(ctx context.Context) (bool, string, error) {
		p, err := suite.client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, string(p.Status.Phase), nil
	})
	logs, err := suite.client.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return logs
}
