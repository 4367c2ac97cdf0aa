package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hdscale/hdscale/extender"
	"github.com/hdscale/hdscale/internal/kube"
)

// ExtenderClient fetches the extender's recent decisions about one pod
// (GET /explain?pod=namespace/name).
type ExtenderClient interface {
	// Explain returns one answer per extender asked; it fails only when none
	// answered.
	Explain(ctx context.Context, pod string) ([]ExtenderAnswer, error)
}

// ExtenderAnswer is what one extender said.
type ExtenderAnswer struct {
	// Source is the scheduler pod asked.
	Source string `json:"source"`
	// Decisions are its decisions about the pod, newest first (only the
	// leading scheduler's extender decides; a standby has none).
	Decisions []extender.Decision `json:"decisions"`
	// Error says why it did not answer.
	Error string `json:"error,omitempty"`
}

// PodGetter GETs pathAndQuery on port of pod namespace/name as the
// caller (production: a kube.Tunnel with the kubeconfig's credentials).
type PodGetter func(ctx context.Context, namespace, name string, port int, pathAndQuery string) ([]byte, error)

// TunnelGetter is the PodGetter of the plugin: a port-forward per call,
// authenticated as the kubeconfig's user (the extender's /explain checks
// that identity with TokenReview or the cluster's client CA, then
// SubjectAccessReview; grant ClusterRole hdscale-metrics-reader).
func TunnelGetter(cfg *rest.Config) PodGetter {
	return func(ctx context.Context, namespace, name string, port int, pathAndQuery string) ([]byte, error) {
		t, err := kube.OpenTunnel(ctx, cfg, namespace, name, port)
		if err != nil {
			return nil, err
		}
		defer t.Close()
		return t.Get(ctx, pathAndQuery)
	}
}

// podsExtender asks every running scheduler pod's extender for /explain.
type podsExtender struct {
	kube      kubernetes.Interface
	get       PodGetter
	namespace string
	selector  string
	port      int
}

// NewPodsExtender returns the ExtenderClient for the --extender-* flags.
func NewPodsExtender(kube kubernetes.Interface, get PodGetter, o Options) ExtenderClient {
	return podsExtender{kube: kube, get: get, namespace: o.ExtenderNamespace, selector: o.ExtenderSelector, port: o.ExtenderPort}
}

func (p podsExtender) Explain(ctx context.Context, pod string) ([]ExtenderAnswer, error) {
	list, err := p.kube.CoreV1().Pods(p.namespace).List(ctx, metav1.ListOptions{LabelSelector: p.selector})
	if err != nil {
		return nil, fmt.Errorf("listing the scheduler pods (%s in %s): %w", p.selector, p.namespace, err)
	}
	var answers []ExtenderAnswer
	var errs []error
	for i := range list.Items {
		sp := &list.Items[i]
		if sp.Status.Phase != corev1.PodRunning {
			continue
		}
		src := "pod/" + sp.Name
		raw, err := p.get(ctx, sp.Namespace, sp.Name, p.port, "/explain?"+url.Values{"pod": {pod}}.Encode())
		a, err := decodeAnswer(src, raw, err)
		if err != nil {
			errs = append(errs, err)
			a.Error = err.Error()
		}
		answers = append(answers, a)
	}
	switch {
	case len(answers) == 0:
		return nil, fmt.Errorf("no running scheduler pod matches %s in namespace %s", p.selector, p.namespace)
	case len(errs) == len(answers):
		return nil, errors.Join(errs...)
	}
	// The answering extenders first (the leader has the decisions).
	slices.SortStableFunc(answers, func(a, b ExtenderAnswer) int { return len(b.Decisions) - len(a.Decisions) })
	return answers, nil
}

func decodeAnswer(src string, raw []byte, err error) (ExtenderAnswer, error) {
	a := ExtenderAnswer{Source: src}
	if err != nil {
		return a, fmt.Errorf("GET /explain on %s through a port-forward: %w", src, err)
	}
	var resp extender.ExplainResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		return a, fmt.Errorf("GET /explain on %s: decoding the answer: %w", src, err)
	}
	a.Decisions = resp.Decisions
	return a, nil
}
