package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hdscale/hdscale/extender"
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
	// Source is the scheduler pod (or Service) asked.
	Source string `json:"source"`
	// Decisions are its decisions about the pod, newest first (only the
	// leading scheduler's extender decides; a standby has none).
	Decisions []extender.Decision `json:"decisions"`
	// Error says why it did not answer.
	Error string `json:"error,omitempty"`
}

// proxyExtender reaches /explain through the API server's proxy: to each
// scheduler pod (pods/proxy), or to a Service (services/proxy) when one is
// named.
type proxyExtender struct {
	kube      kubernetes.Interface
	namespace string
	selector  string
	service   string
	port      string
}

// NewProxyExtender returns the ExtenderClient for the --extender-* flags.
func NewProxyExtender(kube kubernetes.Interface, o Options) ExtenderClient {
	return proxyExtender{kube: kube, namespace: o.ExtenderNamespace, selector: o.ExtenderSelector,
		service: o.ExtenderService, port: strconv.Itoa(o.ExtenderPort)}
}

func (p proxyExtender) Explain(ctx context.Context, pod string) ([]ExtenderAnswer, error) {
	params := map[string]string{"pod": pod}
	if p.service != "" {
		src := "service/" + p.service
		raw, err := p.kube.CoreV1().Services(p.namespace).ProxyGet("http", p.service, p.port, "explain", params).DoRaw(ctx)
		a, err := decodeAnswer(src, raw, err)
		if err != nil {
			return nil, err
		}
		return []ExtenderAnswer{a}, nil
	}
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
		raw, err := p.kube.CoreV1().Pods(p.namespace).ProxyGet("http", sp.Name, p.port, "explain", params).DoRaw(ctx)
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
		return a, fmt.Errorf("GET /explain on %s through the API server proxy: %w", src, err)
	}
	var resp extender.ExplainResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		return a, fmt.Errorf("GET /explain on %s: decoding the answer: %w", src, err)
	}
	a.Decisions = resp.Decisions
	return a, nil
}
