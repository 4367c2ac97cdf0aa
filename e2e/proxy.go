//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/kube"
)

// proxyGet GETs path on port of pod ns/name through the API server's pod
// proxy (no port-forward, no host networking).
func proxyGet(ctx context.Context, ns, name, port, path string, params map[string]string) ([]byte, error) {
	b, err := suite.client.CoreV1().Pods(ns).ProxyGet("http", name, port, path, params).DoRaw(ctx)
	if err != nil {
		return b, fmt.Errorf("GET %s on pod %s/%s:%s: %w (body %q)", path, ns, name, port, err, truncate(string(b), 300))
	}
	return b, nil
}

// privateGet GETs path (with params) on a private endpoint of pod ns/name:
// a port-forward authenticated as the suite's kubeconfig user (the kind
// admin's client certificate), which the pod checks with the API server.
// The pod proxy cannot serve these: it forwards no credentials.
func privateGet(ctx context.Context, ns, name string, port int, path string, params map[string]string) ([]byte, error) {
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	t, err := kube.OpenTunnel(ctx, suite.cfg, ns, name, port)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	b, err := t.Get(ctx, path)
	if err != nil {
		return b, fmt.Errorf("GET %s on pod %s/%s:%d: %w", path, ns, name, port, err)
	}
	return b, nil
}

// proxyPost POSTs to path on port of pod ns/name through the pod proxy.
func proxyPost(ctx context.Context, ns, name, port, path string, params map[string]string) ([]byte, error) {
	req := suite.client.CoreV1().RESTClient().Post().
		Namespace(ns).Resource("pods").Name(name + ":" + port).SubResource("proxy").Suffix(path)
	for k, v := range params {
		req = req.Param(k, v)
	}
	b, err := req.DoRaw(ctx)
	if err != nil {
		return b, fmt.Errorf("POST %s on pod %s/%s:%s: %w (body %q)", path, ns, name, port, err, truncate(string(b), 300))
	}
	return b, nil
}

// runtimeEnv is the body of the fake runtime's GET /engine/env.
type runtimeEnv struct {
	Env           map[string]*string `json:"env"`
	Workers       int                `json:"workers"`
	WorkersSource string             `json:"workers_source"`
	NumCPU        int                `json:"num_cpu"`
	Node          string             `json:"node"`
	Pod           string             `json:"pod"`
}

// getRuntimeEnv asks a running fake runtime what environment it was given.
func getRuntimeEnv(ctx context.Context, p *corev1.Pod) (runtimeEnv, error) {
	var env runtimeEnv
	b, err := proxyGet(ctx, p.Namespace, p.Name, runtimePort, "/engine/env", nil)
	if err != nil {
		return env, err
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return env, fmt.Errorf("decoding /engine/env of %s: %w (body %q)", p.Name, err, truncate(string(b), 300))
	}
	return env, nil
}

// burn asks a fake runtime to burn cpuMS of CPU on one of its workers and
// waits for the answer.
func burn(ctx context.Context, ns, name string, cpuMS int) error {
	_, err := proxyPost(ctx, ns, name, runtimePort, "/engine/runtime", map[string]string{"cpu_ms": strconv.Itoa(cpuMS)})
	return err
}

// podsOnNodes counts pods per node.
func podsOnNodes(pods []corev1.Pod) map[string]int {
	m := map[string]int{}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			m[p.Spec.NodeName]++
		}
	}
	return m
}

// getPod reads one pod.
func getPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	return suite.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
}
