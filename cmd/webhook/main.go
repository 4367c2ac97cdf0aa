// Command webhook runs hdscale's mutating admission webhook for hetida
// designer runtime pods (see docs/webhook.md).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hdscale/hdscale/certs"
	"github.com/hdscale/hdscale/internal/access"
	"github.com/hdscale/hdscale/internal/kube"
	"github.com/hdscale/hdscale/internal/logging"
	"github.com/hdscale/hdscale/internal/pool"
	"github.com/hdscale/hdscale/internal/serving"
	"github.com/hdscale/hdscale/internal/version"
	"github.com/hdscale/hdscale/webhook"
)

type flags struct {
	webhook     webhook.Options
	certs       certs.Options
	configName  string
	tlsCertFile string
	tlsKeyFile  string
	kubeconfig  string
	metricsAuth string
	version     bool
	log         logging.Options
}

func parseFlags(args []string) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	fs.StringVar(&f.webhook.ListenAddr, "listen", webhook.DefaultListenAddr, "HTTPS address of /mutate and /validate-namespace")
	fs.StringVar(&f.webhook.HealthAddr, "health-listen", webhook.DefaultHealthAddr, "plain-HTTP address of /healthz and /readyz")
	fs.StringVar(&f.webhook.MetricsAddr, "metrics-listen", webhook.DefaultMetricsAddr, "HTTPS address of /metrics (authenticated and authorized by the API server)")
	fs.StringVar(&f.metricsAuth, "metrics-auth", access.ModeDelegated, "who may read /metrics: delegated (TokenReview/client certificate + SubjectAccessReview) or none (plain HTTP, loopback --metrics-listen only)")
	fs.StringVar(&f.webhook.ConfigPath, "config", "", "matching-rules YAML file (default: built-in rules)")
	fs.StringVar(&f.webhook.Namespace, "namespace", os.Getenv("POD_NAMESPACE"), "the webhook's namespace (TLS Secret, Service; its pods are never mutated) (env POD_NAMESPACE)")
	fs.StringVar(&f.webhook.SchedulerName, "scheduler-name", webhook.DefaultSchedulerName, "schedulerName given to runtime pods")
	fs.StringVar(&f.webhook.SchedulerLease, "scheduler-lease", webhook.DefaultSchedulerName, "leader lease of that scheduler in --namespace; while no leader renews it, runtime pods get warnings and events (empty: not watched)")
	fs.StringVar(&f.webhook.Identity, "identity", os.Getenv("POD_NAME"), "this replica's name in leader election (env POD_NAME; default: hostname)")
	fs.Int64Var(&f.webhook.MaxRequestBytes, "max-request-bytes", webhook.DefaultMaxRequestBytes, "largest AdmissionReview body accepted")
	fs.Float64Var(&f.webhook.ShapeTolerance, "shape-tolerance", pool.DefaultShapeTolerance, "relative difference in allocatable CPU and memory within which pool nodes count as equal (must match the extender's)")
	fs.StringVar(&f.certs.ServiceName, "service-name", "hdscale-webhook", "webhook Service name (the serving certificate's DNS names)")
	fs.StringVar(&f.certs.SecretName, "tls-secret", certs.DefaultSecretName, "Secret holding the CA and serving certificate")
	fs.StringVar(&f.certs.ClusterDomain, "cluster-domain", certs.DefaultClusterDomain, "cluster DNS suffix")
	fs.StringVar(&f.configName, "webhook-config-name", "hdscale", "name of the MutatingWebhookConfiguration and of the ValidatingWebhookConfiguration whose caBundle is kept current")
	fs.DurationVar(&f.certs.CAValidity, "ca-validity", certs.DefaultCAValidity, "lifetime of a new CA")
	fs.DurationVar(&f.certs.CertValidity, "cert-validity", certs.DefaultCertValidity, "lifetime of a new serving certificate")
	fs.DurationVar(&f.certs.RotateBefore, "cert-rotate-before", 0, "renew a certificate this long before it expires (0: when a third of its lifetime is left)")
	fs.DurationVar(&f.certs.PropagationDelay, "ca-propagation-delay", certs.DefaultPropagationDelay, "how long a new CA is published in caBundles before it signs serving certificates")
	fs.DurationVar(&f.certs.Overlap, "ca-overlap", certs.DefaultOverlap, "how long the old CA stays in caBundles after serving certificates switched to the new CA")
	fs.StringVar(&f.tlsCertFile, "tls-cert-file", "", "serve this certificate instead of managing one (local and bench runs; needs --tls-key-file)")
	fs.StringVar(&f.tlsKeyFile, "tls-key-file", "", "private key of --tls-cert-file")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster configuration)")
	fs.StringVar(&f.log.Level, "log-level", "info", "log level: debug, info or error")
	fs.BoolVar(&f.log.Development, "log-development", false, "human-readable console logs instead of JSON")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.version {
		return f, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	f.certs.Namespace = f.webhook.Namespace
	f.certs.MutatingWebhookConfigurations = []string{f.configName}
	f.certs.ValidatingWebhookConfigurations = []string{f.configName}
	return f, f.validate()
}

func (f *flags) validate() error {
	var errs []error
	f.webhook.Default()
	planned := f.webhook
	planned.Private = access.Planned(f.metricsAuth) // built in run, once a client exists
	errs = append(errs, access.ValidateMode(f.metricsAuth), planned.Validate(), f.log.Validate())
	if (f.tlsCertFile == "") != (f.tlsKeyFile == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-key-file go together"))
	}
	if f.tlsCertFile == "" {
		c := f.certs
		c.Default()
		errs = append(errs, c.Validate())
	}
	return errors.Join(errs...)
}

func main() {
	f, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hdscale webhook:", err)
		os.Exit(2)
	}
	if f.version {
		fmt.Println(version.Get())
		return
	}
	if err := run(f); err != nil {
		fmt.Fprintln(os.Stderr, "hdscale webhook:", err)
		os.Exit(1)
	}
}

func run(f *flags) error {
	log, flush, err := logging.New(f.log)
	if err != nil {
		return err
	}
	defer flush()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	restCfg, err := restConfig(f.kubeconfig)
	if err != nil {
		return err
	}
	restCfg.UserAgent = "hdscale-webhook"
	client, err := kubernetes.NewForConfig(kube.Protobuf(restCfg))
	if err != nil {
		return fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	reg := serving.NewRegistry()

	var get func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	if f.tlsCertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCertFile, f.tlsKeyFile)
		if err != nil {
			return fmt.Errorf("loading --tls-cert-file/--tls-key-file: %w", err)
		}
		get = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
		log.Info("serving a static certificate", "certFile", f.tlsCertFile)
	} else {
		mgr, err := certs.NewManager(client, f.certs, log, reg)
		if err != nil {
			return err
		}
		// Start returns once the manager's caches synced; it keeps running until ctx ends.
		if err := mgr.Start(ctx); err != nil {
			return err
		}
		get = mgr.GetCertificate
		f.webhook.ReadyChecks = map[string]serving.Check{"tls": mgr.Ready}
	}
	f.webhook.TLSConfig = certs.ServerTLSConfig(get)
	if f.webhook.Private, err = access.Build(ctx, f.metricsAuth, client, privateHost(f), log.WithName("access"), reg); err != nil {
		return err
	}
	return webhook.Run(ctx, f.webhook, client, log, reg, get)
}

// privateHost names the self-signed certificate of the metrics listener.
func privateHost(f *flags) string {
	if f.webhook.Identity != "" {
		return f.webhook.Identity
	}
	return f.certs.ServiceName
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		c, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("loading kubeconfig %s: %w", kubeconfig, err)
		}
		return c, nil
	}
	c, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster configuration (use --kubeconfig outside a cluster): %w", err)
	}
	return c, nil
}
