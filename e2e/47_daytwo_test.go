//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/webhook"
)

// Bounds the issue set, written out.
const (
	pendingMoveBound     = 10 * time.Second // room appears -> Pending replica placed
	outageEventBound     = 60 * time.Second // runtime pod created during an outage -> Warning event
	schedulerReturnBound = 30 * time.Second // scheduler Ready again -> Pending pod placed
	failoverBound        = 30 * time.Second // leader pod deleted -> new runtime pod placed
)

// TestDayTwo: Pending replicas move as soon as room appears (another replica
// deleted, a node added to the pool), a scheduler outage is visible
// (admission warning, Warning event, metric) and ends by itself when the
// scheduler returns, and leader failover keeps placing pods.
func TestDayTwo(t *testing.T) {
	g := group(t)
	nodes := poolNodes(t, poolName)

	g.step(t, "a Pending per-node replica is placed when another replica is deleted", func(t *testing.T) {
		ns := newNamespace(t, "move-delete", patternLabels(policy.PerNode), nsOptions{waitGone: true})
		runWorkload(t, deploymentOf(ns, "rt", int32(len(nodes)+1), runtimeTemplate("rt")))
		waitPendingWithEvent(t, ns, "rt", len(nodes))
		pods := scheduledPods(t, ns, "rt")
		victim := pods[0]
		start := time.Now()
		deletePodNow(t, ns, victim.Name)
		waitFor(t, 2*time.Minute, "the victim to be gone", func(ctx context.Context) (bool, string, error) {
			_, err := suite.client.CoreV1().Pods(ns).Get(ctx, victim.Name, metav1.GetOptions{})
			return err != nil, fmt.Sprint(err), nil
		})
		gone := time.Now()
		waitFor(t, time.Minute, "a Pending replica to take the freed node", func(ctx context.Context) (bool, string, error) {
			pods, err := workloadPods(ctx, ns, "rt")
			if err != nil {
				return false, "", err
			}
			return podsOnNodes(pods)[victim.Spec.NodeName] == 1, podStates(pods), nil
		})
		delay := time.Since(gone)
		t.Logf("Pending replica placed %.1fs after the deleted replica was gone (%.1fs after the delete)", delay.Seconds(), time.Since(start).Seconds())
		if delay > pendingMoveBound {
			t.Errorf("placement took %.1fs, want at most %v", delay.Seconds(), pendingMoveBound)
		}
	})

	g.step(t, "a Pending per-core replica is placed when a node joins the pool", func(t *testing.T) {
		joiner := generalNode(t)
		ns := newNamespace(t, "move-join", patternLabels(policy.PerCore), nsOptions{waitGone: true})
		// 3 pool nodes of 2 CPU hold 6 per-core replicas; the 7th waits.
		runWorkload(t, deploymentOf(ns, "rt", 7, runtimeTemplate("rt")))
		waitPendingWithEvent(t, ns, "rt", 6)
		t.Cleanup(func() { setPoolMembership(t, joiner, false) })
		start := time.Now()
		setPoolMembership(t, joiner, true)
		waitFor(t, time.Minute, "the 7th replica to land on "+joiner, func(ctx context.Context) (bool, string, error) {
			pods, err := workloadPods(ctx, ns, "rt")
			if err != nil {
				return false, "", err
			}
			return podsOnNodes(pods)[joiner] == 1, podStates(pods), nil
		})
		delay := time.Since(start)
		t.Logf("Pending replica placed on the joining node %s %.1fs after it was labelled and tainted into the pool", joiner, delay.Seconds())
		if delay > pendingMoveBound {
			t.Errorf("placement took %.1fs, want at most %v", delay.Seconds(), pendingMoveBound)
		}
	})

	g.step(t, "scheduler outage: warning, event and metric; placed when it returns", func(t *testing.T) {
		ns := newNamespace(t, "outage", patternLabels(policy.PerNode), nsOptions{waitGone: true})
		orig := schedulerReplicas(t)
		t.Cleanup(func() {
			scaleDeployment(t, systemNamespace, schedulerDeploy, orig)
			waitDeploymentReady(t, systemNamespace, schedulerDeploy, 3*time.Minute)
		})
		scaleDeployment(t, systemNamespace, schedulerDeploy, 0)
		waitFor(t, 2*time.Minute, "no scheduler pods", func(ctx context.Context) (bool, string, error) {
			pods, err := suite.client.CoreV1().Pods(systemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=scheduler"})
			if err != nil {
				return false, "", err
			}
			return len(pods.Items) == 0, fmt.Sprintf("%d scheduler pods", len(pods.Items)), nil
		})
		client, ws := warningClient(t)
		var created *corev1.Pod
		waitFor(t, time.Minute, "a runtime pod admitted with the outage warning", func(ctx context.Context) (bool, string, error) {
			ws.take()
			if _, err := client.CoreV1().Pods(ns).Create(ctx, podFrom(ns, "rt", runtimeTemplate("rt")), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
				return false, "", err
			}
			got := ws.take()
			if len(warningsMention(got, "no live hdscale-scheduler")) == 0 {
				return false, strings.Join(got, " | "), nil
			}
			var err error
			created, err = client.CoreV1().Pods(ns).Create(ctx, podFrom(ns, "rt", runtimeTemplate("rt")), metav1.CreateOptions{})
			return err == nil, strings.Join(got, " | "), err
		})
		createdAt := time.Now()
		t.Cleanup(func() { deletePod(t, ns, "rt") })
		waitFor(t, outageEventBound, "a SchedulerUnavailable Warning event on the Pending pod", func(ctx context.Context) (bool, string, error) {
			evs, err := podEvents(ctx, ns, "rt", webhook.ReasonSchedulerUnavailable)
			if err != nil || len(evs) == 0 {
				return false, "no event yet", err
			}
			return evs[0].Type == corev1.EventTypeWarning, evs[0].Message, nil
		})
		t.Logf("SchedulerUnavailable event %.1fs after the pod was created", time.Since(createdAt).Seconds())
		if live, err := webhookMetric(testContext(t), "hdscale_scheduler_live"); err != nil || live != 0 {
			t.Errorf("hdscale_scheduler_live = %v (%v), want 0 during the outage", live, err)
		}
		if p := mustGetPod(t, ns, "rt"); podScheduled(p) || created == nil {
			t.Fatalf("pod placed during the outage on %q", p.Spec.NodeName)
		}

		scaleDeployment(t, systemNamespace, schedulerDeploy, orig)
		waitDeploymentReady(t, systemNamespace, schedulerDeploy, 3*time.Minute)
		ready := time.Now()
		waitFor(t, time.Minute, "the Pending pod to be placed after the scheduler returned", func(ctx context.Context) (bool, string, error) {
			p, err := suite.client.CoreV1().Pods(ns).Get(ctx, "rt", metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			return p.Spec.NodeName != "", p.Spec.NodeName, nil
		})
		delay := time.Since(ready)
		t.Logf("placed %.1fs after the scheduler Deployment was Ready again", delay.Seconds())
		if delay > schedulerReturnBound {
			t.Errorf("placement took %.1fs after the scheduler's return, want at most %v", delay.Seconds(), schedulerReturnBound)
		}
		waitFor(t, time.Minute, "hdscale_scheduler_live back to 1", func(ctx context.Context) (bool, string, error) {
			v, err := webhookMetric(ctx, "hdscale_scheduler_live")
			return err == nil && v == 1, fmt.Sprint(v, err), nil
		})
	})

	g.step(t, "leader failover: the leader's pod deleted, a new runtime pod is placed", func(t *testing.T) {
		ns := newNamespace(t, "failover", patternLabels(policy.PerNode), nsOptions{waitGone: true})
		waitDeploymentReady(t, systemNamespace, schedulerDeploy, 3*time.Minute)
		leader := schedulerLeaderPod(t)
		start := time.Now()
		deletePodNow(t, systemNamespace, leader)
		ctx, cancel := callContext(t)
		_, err := suite.client.CoreV1().Pods(ns).Create(ctx, podFrom(ns, "rt", runtimeTemplate("rt")), metav1.CreateOptions{})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deletePod(t, ns, "rt") })
		waitFor(t, time.Minute, "the runtime pod to be placed by the new leader", func(ctx context.Context) (bool, string, error) {
			p, err := suite.client.CoreV1().Pods(ns).Get(ctx, "rt", metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			return p.Spec.NodeName != "", p.Spec.NodeName, nil
		})
		delay := time.Since(start)
		t.Logf("leader %s deleted; a new runtime pod placed %.1fs later (new leader %s)", leader, delay.Seconds(), schedulerLeaderPod(t))
		if delay > failoverBound {
			t.Errorf("failover placement took %.1fs, want at most %v", delay.Seconds(), failoverBound)
		}
		waitDeploymentReady(t, systemNamespace, schedulerDeploy, 3*time.Minute)
	})
}

// scheduledPods lists the workload's placed pods.
func scheduledPods(t *testing.T, ns, workload string) []corev1.Pod {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	pods, err := workloadPods(ctx, ns, workload)
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range pods {
		if podScheduled(&p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no placed pods of %s/%s", ns, workload)
	}
	return out
}

func deletePodNow(t *testing.T, ns, name string) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	if err := suite.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatalf("deleting pod %s/%s: %v", ns, name, err)
	}
}

// generalNode is the cluster's worker outside the pool.
func generalNode(t *testing.T) string {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	l, err := suite.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "!node-role.kubernetes.io/control-plane,!" + policy.NodePoolKey})
	if err != nil || len(l.Items) == 0 {
		t.Fatalf("no general worker node (%v)", err)
	}
	return l.Items[0].Name
}

// setPoolMembership labels and taints node into the pool, or removes both.
func setPoolMembership(t *testing.T, node string, member bool) {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	n, err := suite.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	taint := corev1.Taint{Key: policy.NodePoolKey, Value: poolName, Effect: corev1.TaintEffectNoSchedule}
	var taints []corev1.Taint
	for _, tt := range n.Spec.Taints {
		if tt.Key != policy.NodePoolKey {
			taints = append(taints, tt)
		}
	}
	if member {
		n.Labels[policy.NodePoolKey] = poolName
		taints = append(taints, taint)
	} else {
		delete(n.Labels, policy.NodePoolKey)
	}
	n.Spec.Taints = taints
	if _, err := suite.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Errorf("updating node %s (pool member %v): %v", node, member, err)
	}
}

func schedulerReplicas(t *testing.T) int32 {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	d, err := suite.client.AppsV1().Deployments(systemNamespace).Get(ctx, schedulerDeploy, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ptr.Deref(d.Spec.Replicas, 2)
}

// schedulerLeaderPod is the pod holding hdscale-scheduler's leader lease
// (kube-scheduler's identity is "<pod name>_<uuid>").
func schedulerLeaderPod(t *testing.T) string {
	t.Helper()
	var holder string
	waitFor(t, time.Minute, "a scheduler leader", func(ctx context.Context) (bool, string, error) {
		l, err := suite.client.CoordinationV1().Leases(systemNamespace).Get(ctx, schedulerName, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		holder = leaseHolder(l)
		return holder != "", holder, nil
	})
	name, _, _ := strings.Cut(holder, "_")
	return name
}

func leaseHolder(l *coordinationv1.Lease) string { return ptr.Deref(l.Spec.HolderIdentity, "") }

// webhookMetric reads one unlabelled series from every webhook pod's
// /metrics and returns it if all pods agree.
func webhookMetric(ctx context.Context, name string) (float64, error) {
	pods, err := suite.client.CoreV1().Pods(systemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=webhook"})
	if err != nil {
		return 0, err
	}
	var v float64
	seen := 0
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning {
			continue
		}
		b, err := privateGet(ctx, p.Namespace, p.Name, webhookPrivatePort, "/metrics", nil)
		if err != nil {
			return 0, err
		}
		got, ok := parsePrometheusText(string(b))[name]
		if !ok {
			return 0, fmt.Errorf("pod %s has no series %s", p.Name, name)
		}
		if seen > 0 && got != v {
			return 0, fmt.Errorf("webhook pods disagree on %s: %v and %v", name, v, got)
		}
		v = got
		seen++
	}
	if seen == 0 {
		return 0, fmt.Errorf("no running webhook pods")
	}
	return v, nil
}

// webhookSeries scrapes /metrics of every running webhook pod and sums each
// series over them.
func webhookSeries(ctx context.Context) (map[string]float64, error) {
	pods, err := suite.client.CoreV1().Pods(systemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=webhook"})
	if err != nil {
		return nil, err
	}
	sum := map[string]float64{}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning {
			continue
		}
		b, err := privateGet(ctx, p.Namespace, p.Name, webhookPrivatePort, "/metrics", nil)
		if err != nil {
			return nil, err
		}
		for k, v := range parsePrometheusText(string(b)) {
			sum[k] += v
		}
	}
	return sum, nil
}
