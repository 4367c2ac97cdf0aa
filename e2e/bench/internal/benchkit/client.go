// Package benchkit is the Kubernetes plumbing the benchmark programs share:
// clients, KWOK fake nodes, runtime pods and the watches that time them.
package benchkit

import (
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	clientcmdlatest "k8s.io/client-go/tools/clientcmd/api/latest"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
)

// Clients are the API clients of one benchmark run.
type Clients struct {
	Kube    kubernetes.Interface
	Metrics metricsclient.Interface
	Config  *rest.Config
}

// NewClients builds clients from a kubeconfig file. The rate limits are high
// on purpose: the client must not be what limits a benchmark.
func NewClients(kubeconfig string) (*Clients, error) {
	cfg, err := RESTConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 2000, 4000
	cfg.UserAgent = "hdscale-bench"
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	mc, err := metricsclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("metrics client: %w", err)
	}
	return &Clients{Kube: kc, Metrics: mc, Config: cfg}, nil
}

// RESTConfig reads the current context of a kubeconfig with certificate
// credentials (what localcp.sh writes: server, CA and client certificate,
// embedded or as files). It avoids client-go's clientcmd package, whose flag
// dependencies the module does not carry.
func RESTConfig(path string) (*rest.Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	obj, _, err := clientcmdlatest.Codec.Decode(raw, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decoding kubeconfig %s: %w", path, err)
	}
	kc, ok := obj.(*clientcmdapi.Config)
	if !ok {
		return nil, fmt.Errorf("kubeconfig %s: unexpected object %T", path, obj)
	}
	ctx, ok := kc.Contexts[kc.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("kubeconfig %s: current context %q not found", path, kc.CurrentContext)
	}
	cluster, ok := kc.Clusters[ctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("kubeconfig %s: cluster %q not found", path, ctx.Cluster)
	}
	user, ok := kc.AuthInfos[ctx.AuthInfo]
	if !ok {
		return nil, fmt.Errorf("kubeconfig %s: user %q not found", path, ctx.AuthInfo)
	}
	return &rest.Config{
		Host:        cluster.Server,
		BearerToken: user.Token,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile: cluster.CertificateAuthority, CAData: cluster.CertificateAuthorityData,
			CertFile: user.ClientCertificate, CertData: user.ClientCertificateData,
			KeyFile: user.ClientKey, KeyData: user.ClientKeyData,
			Insecure: cluster.InsecureSkipTLSVerify,
		},
	}, nil
}
