package plugin

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
)

// Clients are what the commands talk to, as the caller (their kubeconfig
// and RBAC).
type Clients struct {
	Kube    kubernetes.Interface
	Metrics metricsclient.Interface
	// Extender fetches the extender's /explain.
	Extender ExtenderClient
	// Namespace is --namespace, else the kubeconfig context's namespace.
	Namespace string
}

// Connect builds the clients from the kubeconfig (clientcmd's loading rules:
// --kubeconfig, KUBECONFIG, ~/.kube/config; --context; --namespace).
func Connect(o Options) (*Clients, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context, Context: clientcmdapi.Context{Namespace: o.Namespace}}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	switch {
	case clientcmd.IsEmptyConfig(err):
		return nil, fmt.Errorf("no kubeconfig found: pass --kubeconfig, set KUBECONFIG or create ~/.kube/config")
	case err != nil:
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig namespace: %w", err)
	}
	cfg.UserAgent = "kubectl-hdscale"
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	met, err := metricsclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the metrics.k8s.io client: %w", err)
	}
	return &Clients{Kube: kube, Metrics: met, Extender: NewPodsExtender(kube, TunnelGetter(cfg), o), Namespace: ns}, nil
}
