package plugin

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hdscale/hdscale/internal/pool"
	"github.com/hdscale/hdscale/webhook"
)

// Output formats (-o).
const (
	OutputTable = ""
	OutputJSON  = "json"
	OutputYAML  = "yaml"
)

// Options are the plugin's flags; every command takes all of them.
type Options struct {
	// Kubeconfig, Context and Namespace override the kubeconfig (clientcmd
	// loading rules: --kubeconfig, then KUBECONFIG, then ~/.kube/config).
	Kubeconfig string
	Context    string
	Namespace  string
	// AllNamespaces (-A) widens drift to every namespace.
	AllNamespaces bool
	Output        string
	// SchedulerName is the webhook's --scheduler-name.
	SchedulerName string
	// WebhookConfig is the namespace/name of the webhook's config ConfigMap
	// (key webhook.yaml): the matching rules and declared pool shapes.
	WebhookConfig  string
	ShapeTolerance float64
	// Extender* locate the extender's /explain: a port-forward to each
	// scheduler pod (selected by ExtenderSelector) on ExtenderPort.
	ExtenderNamespace string
	ExtenderSelector  string
	ExtenderPort      int
	Timeout           time.Duration
	// Args are the command and its arguments.
	Args []string
}

// Defaults of the flags: the names in manifests/.
const (
	DefaultWebhookConfig     = "hdscale-system/hdscale-webhook-config"
	DefaultExtenderNamespace = "hdscale-system"
	DefaultExtenderSelector  = "app.kubernetes.io/name=hdscale,app.kubernetes.io/component=scheduler"
	// DefaultExtenderPort is the extender's --metrics-listen port
	// (/metrics, /explain; HTTPS, authenticated).
	DefaultExtenderPort = 8890
)

func newFlagSet(o *Options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kubectl hdscale", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file")
	fs.StringVar(&o.Context, "context", "", "the kubeconfig context to use")
	fs.StringVar(&o.Namespace, "namespace", "", "the namespace (default: the context's)")
	fs.StringVar(&o.Namespace, "n", "", "shorthand for --namespace")
	fs.BoolVar(&o.AllNamespaces, "all-namespaces", false, "drift: every namespace")
	fs.BoolVar(&o.AllNamespaces, "A", false, "shorthand for --all-namespaces")
	fs.StringVar(&o.Output, "output", OutputTable, "output format: json or yaml (default: a table)")
	fs.StringVar(&o.Output, "o", OutputTable, "shorthand for --output")
	fs.StringVar(&o.SchedulerName, "scheduler-name", webhook.DefaultSchedulerName, "the scheduler hdscale gives runtime pods (the webhook's --scheduler-name)")
	fs.StringVar(&o.WebhookConfig, "webhook-config", DefaultWebhookConfig, "namespace/name of the webhook's config ConfigMap")
	fs.Float64Var(&o.ShapeTolerance, "shape-tolerance", pool.DefaultShapeTolerance, "pool shape tolerance (the webhook's and extender's --shape-tolerance)")
	fs.StringVar(&o.ExtenderNamespace, "extender-namespace", DefaultExtenderNamespace, "namespace of the hdscale scheduler")
	fs.StringVar(&o.ExtenderSelector, "extender-selector", DefaultExtenderSelector, "label selector of the hdscale scheduler pods")
	fs.IntVar(&o.ExtenderPort, "extender-port", DefaultExtenderPort, "the extender's private port (/explain; its --metrics-listen)")
	fs.DurationVar(&o.Timeout, "request-timeout", 30*time.Second, "timeout of the whole command")
	fs.Usage = func() {
		fmt.Fprint(out, usage)
		fs.PrintDefaults()
	}
	return fs
}

const usage = `kubectl hdscale: what hdscale decided and why.

Usage:
  kubectl hdscale status                  pools, nodes (live CPU), runtime replicas, Pending runtime pods
  kubectl hdscale explain POD [-n NS]     the webhook's decision and the extender's per-node reasons
  kubectl hdscale drift [-n NS | -A]      runtime pods that differ from what they would get now
  kubectl hdscale version                 the plugin's hdscale version

Flags:
`

// errHelp is returned for -h: usage was printed, nothing failed.
var errHelp = flag.ErrHelp

// ParseArgs parses flags given anywhere among args (as kubectl accepts them).
func ParseArgs(args []string, out io.Writer) (Options, error) {
	var o Options
	fs := newFlagSet(&o, out)
	for {
		if err := fs.Parse(args); err != nil {
			return o, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		o.Args = append(o.Args, args[0])
		args = args[1:]
	}
	return o, o.validate()
}

func (o *Options) validate() error {
	var errs []error
	switch o.Output {
	case OutputTable, "wide", OutputJSON, OutputYAML:
	default:
		errs = append(errs, fmt.Errorf("--output %q: must be json or yaml (or empty for a table)", o.Output))
	}
	if o.Output == "wide" {
		o.Output = OutputTable
	}
	if ns, name, ok := strings.Cut(o.WebhookConfig, "/"); !ok || ns == "" || name == "" {
		errs = append(errs, fmt.Errorf("--webhook-config %q: must be namespace/name", o.WebhookConfig))
	}
	if o.ExtenderPort <= 0 || o.ExtenderPort > 65535 {
		errs = append(errs, fmt.Errorf("--extender-port %d: must be a port number", o.ExtenderPort))
	}
	if !(o.ShapeTolerance >= 0 && o.ShapeTolerance < 1) {
		errs = append(errs, fmt.Errorf("--shape-tolerance %v: must be in [0, 1)", o.ShapeTolerance))
	}
	if o.AllNamespaces && o.Namespace != "" {
		errs = append(errs, errors.New("--namespace and --all-namespaces exclude each other"))
	}
	if o.Timeout <= 0 {
		errs = append(errs, errors.New("--request-timeout must be positive"))
	}
	return errors.Join(errs...)
}
