//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/hdscale/hdscale/certs"
	"github.com/hdscale/hdscale/internal/kube"
	"github.com/hdscale/hdscale/internal/policy"
)

// TestFaultsUnderLoad injects faults while a stream of runtime pod creates
// (5/s, dry-run) runs and a per-node workload fills the pool: every fault
// must end with 0 failed admissions and the workload's pods still running,
// one per node, none replaced.
func TestFaultsUnderLoad(t *testing.T) {
	g := group(t)
	nodes := poolNodes(t, poolName)
	labels := patternLabels(policy.PerNode)
	ns := newNamespace(t, "faultload", labels, nsOptions{waitGone: true})
	e, err := expectFor(labels, nodes)
	if err != nil {
		t.Fatal(err)
	}
	steady := deploymentOf(ns, "steady", int32(len(nodes)), runtimeTemplate("steady"))
	createDeployment(t, steady)
	t.Cleanup(func() { deleteWorkload(t, ns, "steady") })
	initial := waitWorkloadReady(t, ns, "steady", len(nodes))
	intact := func(t *testing.T) {
		t.Helper()
		checkIntact(t, ns, initial, len(nodes))
	}

	g.step(t, "TLS Secret deleted: a fresh CA without overlap", func(t *testing.T) {
		st := startAdmissionStream(t, ns, e, 5)
		old, err := tlsSecret(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		resetTLSSecret(t)
		var serving time.Time
		waitFor(t, 3*time.Minute, "caBundles equal to the new Secret, every webhook pod serving a certificate of its CA, and 25 admissions after that", func(ctx context.Context) (bool, string, error) {
			ok, seen, err := bundlesMatchSecret(ctx)
			if err != nil || !ok {
				return false, seen, err
			}
			if serving.IsZero() {
				served, what, err := webhookPodsServeSecretCA(ctx)
				if err != nil || !served {
					return false, what, err
				}
				serving = time.Now()
			}
			return st.admittedSince(serving) >= 25, st.String(), nil
		})
		st.stop()
		sec, _ := tlsSecret(testContext(t))
		t.Logf("Secret %s replaced by %s; stream: %s", old.UID, sec.UID, st)
		noFailures(t, st)
		intact(t)
	})
	g.step(t, "API server restarted", func(t *testing.T) {
		restarts := containerRestarts(t)
		st := startAdmissionStream(t, ns, e, 5)
		waitFor(t, time.Minute, "25 admissions before the restart", func(context.Context) (bool, string, error) {
			return st.admittedSince(time.Now().Add(-time.Hour)) >= 25, st.String(), nil
		})
		restartAPIServer(t)
		back := time.Now()
		waitFor(t, 3*time.Minute, "25 admissions after the API server is back", func(context.Context) (bool, string, error) {
			return st.admittedSince(back) >= 25, st.String(), nil
		})
		st.stop()
		t.Logf("stream: %s; requests the API server itself failed while down: %d", st, len(st.failures())-len(st.admissionFailures()))
		if f := st.admissionFailures(); len(f) > 0 {
			t.Errorf("%d admissions failed:\n  %s", len(f), strings.Join(f, "\n  "))
		}
		// hdscale's own containers ride it out; kube-scheduler exits by
		// design when it cannot renew its lease within its renewDeadline
		// (10 s) and the kubelet restarts it: logged, not a failure.
		after := containerRestarts(t)
		for k, v := range after {
			if strings.HasSuffix(k, "/kube-scheduler") {
				if v != restarts[k] {
					t.Logf("%s restarted (lost its leader lease while the API server was down)", k)
				}
				delete(after, k)
				delete(restarts, k)
			}
		}
		if !maps.Equal(after, restarts) {
			t.Errorf("hdscale containers restarted: before %v, after %v", restarts, after)
		}
		intact(t)
		// Placement works again: a workload pod deleted now is placed
		// again. Bound 150 s: informer watches re-established during the
		// restart may deliver nothing until hdscale renews them (at most
		// kube.MaxWatch, 60 s); the extender's audit forgets the deleted
		// pod on the first rejection, and kube-scheduler retries the pod
		// on its next cluster event. Measured: 58.5 s.
		initial = replaceOne(t, ns, initial, len(nodes), 150*time.Second)
	})
	g.step(t, "drain of the node holding a webhook and a scheduler replica", func(t *testing.T) {
		initial = testDrain(t, ns, e, initial, len(nodes))
	})
	g.step(t, "flood of maximum-size and malformed bodies at /mutate, /validate-namespace, /filter, /prioritize", func(t *testing.T) {
		testFlood(t, ns, e)
		intact(t)
	})
}

func noFailures(t *testing.T, st *admissionStream) {
	t.Helper()
	if f := st.failures(); len(f) > 0 {
		t.Errorf("%d of %d pod creates failed:\n  %s", len(f), st.total(), strings.Join(f, "\n  "))
	}
	if st.total() < 25 {
		t.Errorf("only %d pod creates ran; the stream did not exercise the fault", st.total())
	}
}

// checkIntact: the workload's pods are the initial ones (same UIDs), Ready,
// one per pool node.
func checkIntact(t *testing.T, ns string, initial []corev1.Pod, n int) {
	t.Helper()
	waitFor(t, time.Minute, "the workload intact", func(ctx context.Context) (bool, string, error) {
		pods, err := workloadPods(ctx, ns, "steady")
		if err != nil {
			return false, "", err
		}
		perNode := podsOnNodes(pods)
		same := 0
		for _, p := range pods {
			for _, q := range initial {
				if p.UID == q.UID && podReady(&p) {
					same++
				}
			}
		}
		return len(pods) == n && same == n && len(perNode) == n, fmt.Sprintf("%d pods, %d initial and Ready, nodes %v", len(pods), same, perNode), nil
	})
}

// containerRestarts maps each hdscale container to its restart count.
func containerRestarts(t *testing.T) map[string]int32 {
	t.Helper()
	ctx, cancel := callContext(t)
	defer cancel()
	pods, err := suite.client.CoreV1().Pods(systemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=hdscale"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int32{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue // an earlier rollout's pod on its way out
		}
		for _, cs := range p.Status.ContainerStatuses {
			out[p.Name+"/"+cs.Name] = cs.RestartCount
			if cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.Reason == "OOMKilled" {
				t.Errorf("%s/%s was OOMKilled", p.Name, cs.Name)
			}
		}
	}
	return out
}

// webhookPodsServeSecretCA tells whether every running webhook pod serves a
// certificate signed by the TLS Secret's current CA (a TLS handshake through
// a port-forward to each pod's webhook port).
func webhookPodsServeSecretCA(ctx context.Context) (bool, string, error) {
	sec, err := tlsSecret(ctx)
	if err != nil {
		return false, "", err
	}
	ca := firstCert(sec.Data[certs.KeyCACert])
	if ca == nil {
		return false, "the Secret has no CA yet", nil
	}
	dep, err := suite.client.AppsV1().Deployments(systemNamespace).Get(ctx, webhookDeployment, metav1.GetOptions{})
	if err != nil {
		return false, "", err
	}
	pods, err := deploymentPods(ctx, dep)
	if err != nil {
		return false, "", err
	}
	var seen []string
	all := len(pods) > 0
	for _, p := range pods {
		leaf, err := servedCertificate(ctx, p.Name, 8443)
		if err != nil {
			return false, "", err
		}
		signed := leaf.CheckSignatureFrom(ca) == nil
		all = all && signed
		seen = append(seen, fmt.Sprintf("%s serves %s (signed by CA %s: %v)", p.Name, serialOf(leaf), serialOf(ca), signed))
	}
	return all, strings.Join(seen, "; "), nil
}

// servedCertificate is the leaf certificate pod serves on port.
func servedCertificate(ctx context.Context, pod string, port int) (*x509.Certificate, error) {
	tun, err := kube.OpenTunnel(ctx, suite.cfg, systemNamespace, pod, port)
	if err != nil {
		return nil, err
	}
	defer tun.Close()
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // reading the certificate, not trusting it
	conn, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(tun.BaseURL, "https://"))
	if err != nil {
		return nil, fmt.Errorf("TLS handshake with %s:%d: %w", pod, port, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s:%d presented no certificate", pod, port)
	}
	return certs[0], nil
}

// restartAPIServer stops the kube-apiserver container of the kind control
// plane (its static pod: the kubelet starts a new one) and waits until the
// API server answers again.
func restartAPIServer(t *testing.T) {
	t.Helper()
	node, err := controlPlaneNode(t)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("docker", "exec", node, "sh", "-c",
		"crictl ps --name kube-apiserver -q | xargs -r crictl stop --timeout 5").CombinedOutput()
	if err != nil {
		t.Fatalf("stopping kube-apiserver on %s: %v: %s", node, err, out)
	}
	t.Logf("stopped kube-apiserver container(s) %s", strings.TrimSpace(string(out)))
	waitFor(t, 3*time.Minute, "the API server to answer again", func(ctx context.Context) (bool, string, error) {
		_, err := suite.client.CoreV1().Namespaces().Get(ctx, systemNamespace, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
}

// replaceOne deletes the first of the workload's pods and waits until its
// replacement is Ready, the workload again one pod per pool node; it
// returns the workload's pods.
func replaceOne(t *testing.T, ns string, pods []corev1.Pod, n int, bound time.Duration) []corev1.Pod {
	t.Helper()
	ctx := testContext(t)
	victim := pods[0]
	if err := suite.client.CoreV1().Pods(ns).Delete(ctx, victim.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	var now []corev1.Pod
	waitFor(t, bound, "the replacement of "+victim.Name+" Ready on "+victim.Spec.NodeName, func(ctx context.Context) (bool, string, error) {
		var err error
		now, err = workloadPods(ctx, ns, "steady")
		if err != nil {
			return false, "", err
		}
		ready := 0
		for i := range now {
			if podReady(&now[i]) && now[i].DeletionTimestamp == nil && now[i].UID != victim.UID {
				ready++
			}
		}
		return len(now) == n && ready == n && len(podsOnNodes(now)) == n, podStates(now), nil
	})
	return now
}

// controlPlaneNode names the kind control-plane node (its container has the
// same name).
func controlPlaneNode(t *testing.T) (string, error) {
	ctx, cancel := callContext(t)
	defer cancel()
	l, err := suite.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "node-role.kubernetes.io/control-plane"})
	if err != nil {
		return "", err
	}
	if len(l.Items) != 1 {
		return "", fmt.Errorf("%d control-plane nodes, want 1", len(l.Items))
	}
	return l.Items[0].Name, nil
}

// testDrain drains the general node that holds a webhook replica and a
// scheduler replica (the spread puts one of each per node), with the stream
// running and a workload pod deleted meanwhile: admissions go on through the
// other replica, the pod is placed again by the other scheduler, and the
// evicted replicas come back on the remaining node.
func testDrain(t *testing.T, ns string, e expectation, initial []corev1.Pod, n int) []corev1.Pod {
	ctx := testContext(t)
	byNode := map[string][]string{}
	for _, d := range []string{webhookDeployment, schedulerDeploy} {
		dep, err := suite.client.AppsV1().Deployments(systemNamespace).Get(ctx, d, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pods, err := deploymentPods(ctx, dep)
		if err != nil {
			t.Fatal(err)
		}
		nodesOf := map[string]bool{}
		for _, p := range pods {
			nodesOf[p.Spec.NodeName] = true
			byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], p.Name)
		}
		// The spread: two replicas, two nodes.
		if len(pods) != 2 || len(nodesOf) != 2 {
			t.Fatalf("%s: %d pods on nodes %v; want 2 on 2 nodes (topology spread DoNotSchedule)", d, len(pods), nodesOf)
		}
	}
	var target string
	for node, pods := range byNode {
		if len(pods) == 2 && (target == "" || node < target) {
			target = node
		}
	}
	if target == "" {
		t.Fatalf("no node holds both a webhook and a scheduler replica: %v", byNode)
	}
	st := startAdmissionStream(t, ns, e, 5)
	t.Cleanup(func() {
		if _, err := kubectl(context.Background(), nil, "uncordon", target); err != nil {
			t.Errorf("uncordon %s: %v", target, err)
		}
		// Spread the replicas again for the tests that follow.
		for _, d := range []string{webhookDeployment, schedulerDeploy} {
			if _, err := kubectl(context.Background(), nil, "-n", systemNamespace, "rollout", "restart", "deployment/"+d); err != nil {
				t.Errorf("rollout restart %s: %v", d, err)
			}
		}
		for _, d := range []string{webhookDeployment, schedulerDeploy} {
			waitDeploymentReady(t, systemNamespace, d, 3*time.Minute)
		}
	})
	start := time.Now()
	if out, err := kubectl(ctx, nil, "drain", target, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=3m"); err != nil {
		t.Fatalf("drain %s: %v: %s", target, err, out)
	}
	drained := time.Since(start)
	for _, d := range []string{webhookDeployment, schedulerDeploy} {
		waitDeploymentReady(t, systemNamespace, d, 3*time.Minute)
	}
	// A workload pod replaced while the scheduler replicas moved is placed
	// again on its freed node.
	replaced := time.Now()
	now := replaceOne(t, ns, initial, n, 90*time.Second)
	placed := time.Since(replaced)
	waitFor(t, time.Minute, "25 admissions after the drain", func(context.Context) (bool, string, error) {
		return st.admittedSince(start.Add(drained)) >= 25, st.String(), nil
	})
	st.stop()
	t.Logf("drained %s (%v) holding %v in %v; replacement workload pod Ready after %v; stream: %s", target, byNode[target], drained.Round(100*time.Millisecond), drained.Round(100*time.Millisecond), placed.Round(100*time.Millisecond), st)
	noFailures(t, st)
	return now
}

// floodTarget is one endpoint flooded with one kind of body and the status
// every request must get.
type floodTarget struct {
	url, kind string
	size, n   int
	want      string
}

// testFlood sends maximum-size, oversize and malformed bodies to the
// webhook (from a pod in another namespace, over the pod network) and to
// the extender (from an ephemeral container in the leading scheduler pod:
// its protocol port listens on loopback only), with the stream running.
func testFlood(t *testing.T, ns string, e expectation) {
	ctx := testContext(t)
	restarts := containerRestarts(t)
	dep, err := suite.client.AppsV1().Deployments(systemNamespace).Get(ctx, webhookDeployment, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	whPods, err := deploymentPods(ctx, dep)
	if err != nil || len(whPods) == 0 {
		t.Fatalf("webhook pods: %v", err)
	}
	const mib = 1 << 20
	var webhookTargets []floodTarget
	for _, p := range whPods {
		for _, path := range []string{"/mutate", "/validate-namespace"} {
			u := fmt.Sprintf("https://%s:8443%s", p.Status.PodIP, path)
			webhookTargets = append(webhookTargets,
				floodTarget{u, "huge", 3 * mib, 40, "400"},
				floodTarget{u, "oversize", 3 * mib, 40, "413"},
				floodTarget{u, "malformed", 3 * mib, 40, "400"},
				floodTarget{u, "deep", 3 * mib, 40, "400"})
		}
	}
	var extenderTargets []floodTarget
	for _, path := range []string{"/filter", "/prioritize"} {
		u := "http://127.0.0.1:8888" + path
		extenderTargets = append(extenderTargets,
			floodTarget{u, "huge", 16 * mib, 20, "400"},
			floodTarget{u, "oversize", 16 * mib, 20, "413"},
			floodTarget{u, "malformed", 16 * mib, 20, "400"},
			floodTarget{u, "deep", 16 * mib, 20, "400"})
	}
	st := startAdmissionStream(t, ns, e, 5)
	start := time.Now()
	floodNS := newNamespace(t, "flood", nil, nsOptions{})
	webhookOut := floodFromPod(t, floodNS, webhookTargets)
	extenderOut := floodFromScheduler(t, extenderTargets)
	waitFor(t, time.Minute, "25 admissions during and after the flood", func(context.Context) (bool, string, error) {
		return st.admittedSince(start) >= 25, st.String(), nil
	})
	st.stop()
	for i, tg := range webhookTargets {
		if got := webhookOut[i]; got != tg.want+"="+fmt.Sprint(tg.n) {
			t.Errorf("flood %s %s: %q, want every one %s", tg.kind, tg.url, got, tg.want)
		}
	}
	for i, tg := range extenderTargets {
		if got := extenderOut[i]; got != tg.want+"="+fmt.Sprint(tg.n) {
			t.Errorf("flood %s %s: %q, want every one %s", tg.kind, tg.url, got, tg.want)
		}
	}
	t.Logf("flood: %d webhook requests (3 MiB), %d extender requests (16 MiB) in %v; stream: %s",
		sumN(webhookTargets), sumN(extenderTargets), time.Since(start).Round(100*time.Millisecond), st)
	noFailures(t, st)
	if got := containerRestarts(t); !maps.Equal(got, restarts) {
		t.Errorf("hdscale containers restarted during the flood: before %v, after %v", restarts, got)
	}
	logMemory(t)
}

func sumN(ts []floodTarget) int {
	n := 0
	for _, tg := range ts {
		n += tg.n
	}
	return n
}

// floodCommand runs `probe floods`: one flood per target, in order.
func floodCommand(ts []floodTarget) []string {
	var parts []string
	for _, tg := range ts {
		parts = append(parts, fmt.Sprintf("-url=%s -kind=%s -size=%d -n=%d -c=4", tg.url, tg.kind, tg.size, tg.n))
	}
	return []string{"/probe", "floods", strings.Join(parts, ";")}
}

// parseFloods reads probe floods' output: one line "<index> <counts>" per target.
func parseFloods(t *testing.T, out string, n int) []string {
	t.Helper()
	res := make([]string, n)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var i int
		var counts string
		if _, err := fmt.Sscanf(line, "%d %s", &i, &counts); err == nil && i >= 0 && i < n {
			res[i] = counts
		}
	}
	if slices.Contains(res, "") {
		t.Errorf("probe floods printed %q", out)
	}
	return res
}

func floodFromPod(t *testing.T, ns string, ts []floodTarget) []string {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "flood"},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []corev1.Container{{
				Name: "flood", Image: suite.images.FakeRuntime, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: floodCommand(ts),
			}},
		},
	}
	return parseFloods(t, string(runToCompletion(t, ns, pod, 5*time.Minute)), len(ts))
}

// floodFromScheduler runs the probe as an ephemeral container of the
// leading scheduler pod (the extender's protocol port is loopback-only).
func floodFromScheduler(t *testing.T, ts []floodTarget) []string {
	t.Helper()
	ctx := testContext(t)
	leader, err := schedulerLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := suite.client.CoreV1().Pods(systemNamespace).Get(ctx, leader, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("flood-%d", len(p.Spec.EphemeralContainers))
	p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: name, Image: suite.images.FakeRuntime, ImagePullPolicy: corev1.PullIfNotPresent,
			Command: floodCommand(ts),
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				RunAsNonRoot:             ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		},
	})
	if _, err := suite.client.CoreV1().Pods(systemNamespace).UpdateEphemeralContainers(ctx, leader, p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("adding ephemeral container %s to %s: %v", name, leader, err)
	}
	waitFor(t, 5*time.Minute, "ephemeral container "+name+" to finish", func(ctx context.Context) (bool, string, error) {
		p, err := suite.client.CoreV1().Pods(systemNamespace).Get(ctx, leader, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		for _, cs := range p.Status.EphemeralContainerStatuses {
			if cs.Name == name && cs.State.Terminated != nil {
				return true, "", nil
			}
		}
		return false, "running", nil
	})
	logs, err := suite.client.CoreV1().Pods(systemNamespace).GetLogs(leader, &corev1.PodLogOptions{Container: name}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return parseFloods(t, string(logs), len(ts))
}

// schedulerLeader is the pod holding the scheduler's leader lease.
func schedulerLeader(ctx context.Context) (string, error) {
	l, err := suite.client.CoordinationV1().Leases(systemNamespace).Get(ctx, schedulerDeploy, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	id := ptr.Deref(l.Spec.HolderIdentity, "")
	// kube-scheduler's identity is "<hostname>_<uuid>"; the hostname is the pod name.
	name, _, _ := strings.Cut(id, "_")
	if name == "" {
		return "", fmt.Errorf("lease %s has no holder", schedulerDeploy)
	}
	return name, nil
}

// logMemory reports each hdscale process's resident memory after the flood.
func logMemory(t *testing.T) {
	t.Helper()
	ctx := testContext(t)
	var lines []string
	for _, d := range []struct {
		deploy string
		port   int
	}{{webhookDeployment, webhookPrivatePort}, {schedulerDeploy, extenderPrivatePort}} {
		dep, err := suite.client.AppsV1().Deployments(systemNamespace).Get(ctx, d.deploy, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pods, err := deploymentPods(ctx, dep)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods {
			b, err := privateGet(ctx, systemNamespace, p.Name, d.port, "/metrics", nil)
			if err != nil {
				t.Errorf("metrics of %s: %v", p.Name, err)
				continue
			}
			m := parsePrometheusText(string(b))
			lines = append(lines, fmt.Sprintf("%s: RSS %.0f MiB, heap in use %.0f MiB, %v goroutines", p.Name,
				m["process_resident_memory_bytes"]/(1<<20), m["go_memstats_heap_inuse_bytes"]/(1<<20), m["go_goroutines"]))
		}
	}
	sort.Strings(lines)
	t.Logf("after the flood:\n  %s", strings.Join(lines, "\n  "))
}
