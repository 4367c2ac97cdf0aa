//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
)

// Names of what `make deploy` installs (manifests/).
const (
	systemNamespace   = "hdscale-system"
	webhookDeployment = "hdscale-webhook"
	webhookService    = "hdscale-webhook"
	schedulerDeploy   = "hdscale-scheduler"
	webhookConfigName = "hdscale" // both the mutating and the validating configuration
	tlsSecretName     = "hdscale-webhook-tls"
	schedulerName     = "hdscale-scheduler"
	extenderPort      = "8889"
	// The private ports (/metrics, /explain: HTTPS, authenticated).
	extenderPrivatePort = 8890
	webhookPrivatePort  = 8444
	runtimePort         = "8090"
	runtimePortNumber   = 8090
	poolName            = "runtime"
	// e2eLabel marks every namespace the suite creates, so a later run can
	// sweep what an aborted one left behind.
	e2eLabel = "hdscale-e2e"
)

type flags struct {
	kubeconfig string
	imagesEnv  string
	kubectl    string
	repoRoot   string
	keep       bool
	// install says how hdscale was installed: "kustomize" (make deploy) or
	// "helm" (make helm-e2e); helm is the helm binary for -uninstall.
	install   string
	helm      string
	uninstall bool
}

// Install ways the suite knows (-install).
const (
	installKustomize = "kustomize"
	installHelm      = "helm"
	// helmRelease is the release name make helm-e2e installs.
	helmRelease = "hdscale"
)

var suiteFlags flags

func init() {
	flag.StringVar(&suiteFlags.kubeconfig, "kubeconfig", "", "kubeconfig of the e2e cluster (default: <repo>/.cluster/kubeconfig)")
	flag.StringVar(&suiteFlags.imagesEnv, "images-env", "", "images.env written by e2e/tools/deploy.sh (default: next to the kubeconfig)")
	flag.StringVar(&suiteFlags.kubectl, "kubectl", "", "kubectl binary (default: the cached build matching the cluster, else kubectl on PATH)")
	flag.StringVar(&suiteFlags.repoRoot, "repo", "", "repository root (default: the parent of the e2e package directory)")
	flag.BoolVar(&suiteFlags.keep, "keep", false, "keep test namespaces after the run (for debugging)")
	flag.StringVar(&suiteFlags.install, "install", installKustomize, "how hdscale was installed: kustomize (make deploy) or helm (make helm-e2e)")
	flag.StringVar(&suiteFlags.helm, "helm", "", "helm binary (needed by -uninstall)")
	flag.BoolVar(&suiteFlags.uninstall, "uninstall", false, "run TestUninstall: helm uninstall, then check that nothing of hdscale is left and no pod is blocked (needs -install=helm -helm=...)")
}

// suiteEnv is everything the tests share: clients, images and tools.
type suiteEnv struct {
	cfg      *rest.Config
	client   kubernetes.Interface
	dynamic  dynamic.Interface
	metrics  metricsclient.Interface
	images   images
	repoRoot string
	kubecfg  string
	kubectl  string
	server   string
	version  string
	keep     bool
	install  string
	helm     string
	// uninstall enables TestUninstall (destructive: it removes hdscale).
	uninstall bool
}

// suite is set by TestMain before any test runs.
var suite *suiteEnv

// images are the tags `make deploy` loaded into the cluster.
type images struct {
	FakeRuntime         string // hdscale/fakeruntime:fake-<hash>
	FakeRuntimeAsHetida string // hetida/designer-runtime:fake-<hash>
	Hdscale             string
}

func newSuiteEnv(ctx context.Context, f flags) (*suiteEnv, error) {
	root := f.repoRoot
	if root == "" {
		root = ".."
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return nil, fmt.Errorf("repository root %s has no go.mod (pass -repo): %w", root, err)
	}
	kc := f.kubeconfig
	if kc == "" {
		kc = filepath.Join(root, ".cluster", "kubeconfig")
	}
	if _, err := os.Stat(kc); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w (run `make cluster-up deploy` first, or pass -kubeconfig)", kc, err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w (an empty kubeconfig: is the cluster being (re)created? `make cluster-up deploy`)", kc, err)
	}
	// The 2-core e2e machine is slow under load; client-side throttling would
	// only add noise to the admission stream tests.
	cfg.QPS, cfg.Burst = 50, 100
	cfg.Timeout = 60 * time.Second
	// Warnings are asserted through warningClient; the shared client's would
	// only repeat them (and the readiness probes') in the log.
	cfg.WarningHandler = rest.NoWarnings{}
	switch f.install {
	case installKustomize, installHelm:
	default:
		return nil, fmt.Errorf("-install=%q: want %s or %s", f.install, installKustomize, installHelm)
	}
	if f.uninstall && (f.install != installHelm || f.helm == "") {
		return nil, fmt.Errorf("-uninstall needs -install=%s and -helm=<helm binary>", installHelm)
	}
	e := &suiteEnv{cfg: cfg, repoRoot: root, kubecfg: kc, server: cfg.Host, keep: f.keep,
		install: f.install, helm: f.helm, uninstall: f.uninstall}
	if e.client, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if e.dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if e.metrics, err = metricsclient.NewForConfig(cfg); err != nil {
		return nil, err
	}

	// Reachable at all? A short, explicit check gives a clear message instead
	// of every test timing out.
	reach := rest.CopyConfig(cfg)
	reach.Timeout = 10 * time.Second
	dc, err := kubernetes.NewForConfig(reach)
	if err != nil {
		return nil, err
	}
	v, err := dc.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("the cluster at %s (kubeconfig %s) is not reachable: %w; is it up? (`make cluster-up deploy`)", cfg.Host, kc, err)
	}
	e.version = v.GitVersion
	if _, err := e.client.CoreV1().Namespaces().Get(ctx, systemNamespace, metav1.GetOptions{}); err != nil {
		return nil, fmt.Errorf("namespace %s not readable (%w): is hdscale deployed? (`make deploy`)", systemNamespace, err)
	}

	envFile := f.imagesEnv
	if envFile == "" {
		envFile = filepath.Join(filepath.Dir(kc), "images.env")
	}
	if e.images, err = readImagesEnv(envFile); err != nil {
		return nil, err
	}
	if e.kubectl, err = findKubectl(root, f.kubectl); err != nil {
		return nil, err
	}
	if err := e.sweepStaleNamespaces(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *suiteEnv) describe() string {
	return fmt.Sprintf("cluster %s (%s), installed with %s, kubeconfig %s, runtime image %s, label-matched image %s, kubectl %s",
		e.server, e.version, e.install, e.kubecfg, e.images.FakeRuntimeAsHetida, e.images.FakeRuntime, e.kubectl)
}

// readImagesEnv parses the KEY=VALUE file e2e/tools/deploy.sh writes.
func readImagesEnv(path string) (images, error) {
	var im images
	f, err := os.Open(path)
	if err != nil {
		return im, fmt.Errorf("images file %s: %w (written by `make deploy`; pass -images-env)", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		switch strings.TrimSpace(k) {
		case "FAKE_RUNTIME_IMAGE":
			im.FakeRuntime = v
		case "FAKE_RUNTIME_AS_HETIDA":
			im.FakeRuntimeAsHetida = v
		case "HDSCALE_IMAGE":
			im.Hdscale = v
		}
	}
	if err := sc.Err(); err != nil {
		return im, fmt.Errorf("reading %s: %w", path, err)
	}
	var missing []string
	if im.FakeRuntime == "" {
		missing = append(missing, "FAKE_RUNTIME_IMAGE")
	}
	if im.FakeRuntimeAsHetida == "" {
		missing = append(missing, "FAKE_RUNTIME_AS_HETIDA")
	}
	if len(missing) > 0 {
		return im, fmt.Errorf("images file %s lacks %s", path, strings.Join(missing, ", "))
	}
	return im, nil
}

// findKubectl returns the kubectl built for the cluster's Kubernetes version
// (e2e/tools/versions.env), else the one on PATH.
func findKubectl(root, flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if version := readVersion(filepath.Join(root, "e2e", "tools", "versions.env"), "KUBE_VERSION"); version != "" {
		cache := os.Getenv("HDSCALE_CACHE")
		if cache == "" {
			if home, err := os.UserHomeDir(); err == nil {
				cache = filepath.Join(home, ".cache", "hdscale")
			}
		}
		p := filepath.Join(cache, "bin", "k8s-"+version, "kubectl")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("kubectl")
	if err != nil {
		return "", errors.New("no kubectl: neither the cached build ($HOME/.cache/hdscale/bin/k8s-<version>/kubectl) nor one on PATH; pass -kubectl")
	}
	return p, nil
}

func readVersion(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
