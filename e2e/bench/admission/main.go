// Command admission measures what pod admission costs end to end in one
// kind cluster, side by side (docs/benchmarks.md, "Webhook end to end";
// driven by e2e/tools/bench-webhook.sh). It sends server-side dry-run pod
// creates (client-go, protobuf, high QPS/burst, like a controller) of one
// webhook/testdata runtime pod into seven namespaces, in interleaved rounds:
//
//	none        hdscale-bench-none        nothing mutates pods there (baseline)
//	map         hdscale-bench-map         a MutatingAdmissionPolicy doing hdscale's mutation in CEL (JSONPatch)
//	noop        hdscale-bench-noop        e2e/bench/noopwebhook in the cluster, no patch: the floor of a webhook hop
//	hdscale     hdscale-bench-hdscale     hdscale's webhook (namespace labelled hdscale.io/pattern=per-core)
//	noop-patch  hdscale-bench-noop-patch  the same no-op webhook answering with a one-operation JSON patch
//	                                      (adds the annotation bench.hdscale.io/noop): the floor of a webhook
//	                                      that mutates, since the API server must apply any patch it gets
//
// at each concurrency (closed loop: N workers, each creating back to back).
// Per round it records latency quantiles, throughput, kube-apiserver CPU per
// request (process_cpu_seconds_total from its /metrics, read through the
// API before and after) and the webhook pods' CPU per request (their
// /metrics through the pod proxy), and reports medians of per-round values
// and of per-round deltas against "none"; hdscale is compared with both
// no-op webhooks (noop-patch minus noop is the API server's own cost of
// accepting a patch, which any mutating webhook pays) and with each policy
// engine (hdscale's added p50 and webhook pods' CPU per admission against
// theirs). Before measuring, each engine's dry-run answer must carry
// exactly the fields hdscale's does (mutationDiff), or the run fails.
//
// It sets up the namespaces, the policy and the two no-op webhooks (each a
// Deployment, Service and MutatingWebhookConfiguration in
// hdscale-bench-noop-system, named bench-noop-webhook and
// bench-noop-patch-webhook, sharing one TLS Secret whose certificate,
// from -noop-tls-dir, must cover both Services' DNS names; each scoped to
// its variant's namespace, with the same replicas, resources, placement and
// webhook settings as hdscale's), and the engines' policies (engines.go;
// the engines themselves are installed by bench-webhook.sh), idempotently,
// and removes them at the end
// unless -keep (-teardown removes what an earlier run left).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hdscale/hdscale/e2e/bench/webhookload/benchpod"
)

type options struct {
	kubeconfig   string
	casePath     string
	noopImage    string
	noopTLSDir   string
	hdscaleNS    string
	hdscaleName  string
	variants     []string
	concurrency  []int
	rounds       int
	warmup       time.Duration
	duration     time.Duration
	qps          float64
	burst        int
	json         bool
	keep         bool
	teardownOnly bool
	out          string
}

func parseOptions(args []string) (options, error) {
	var o options
	var variants, conc string
	fs := flag.NewFlagSet("admission", flag.ContinueOnError)
	fs.StringVar(&o.kubeconfig, "kubeconfig", ".cluster/kubeconfig", "admin kubeconfig of the kind cluster")
	fs.StringVar(&o.casePath, "case", "webhook/testdata/cases/helm-runtime-deployment.yaml", "webhook testdata case whose pod is created")
	fs.StringVar(&o.noopImage, "noop-image", "", "image of e2e/bench/noopwebhook, loaded into the nodes")
	fs.StringVar(&o.noopTLSDir, "noop-tls-dir", "", "ca.crt, tls.crt, tls.key for the no-op webhooks' Service DNS names, "+serviceHost(noopName)+" and "+serviceHost(noopPatchName)+" (noopwebhook gencert)")
	fs.StringVar(&o.hdscaleNS, "hdscale-namespace", "hdscale-system", "namespace of hdscale's webhook")
	fs.StringVar(&o.hdscaleName, "hdscale-webhook", "hdscale", "name of hdscale's MutatingWebhookConfiguration (and prefix of its Deployment, -webhook)")
	fs.StringVar(&variants, "variants", "none,map,noop,hdscale,noop-patch,kyverno,gatekeeper", "variants to measure (kyverno and gatekeeper need the engines of e2e/bench/engines running)")
	fs.StringVar(&conc, "concurrency", "1,16", "closed-loop concurrencies")
	fs.IntVar(&o.rounds, "rounds", 5, "interleaved rounds (variant order rotates per round)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before each measurement (not recorded)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measurement per round, concurrency and variant")
	fs.Float64Var(&o.qps, "qps", 5000, "client-go QPS")
	fs.IntVar(&o.burst, "burst", 5000, "client-go burst")
	fs.BoolVar(&o.json, "json", false, "send JSON instead of protobuf (controllers use protobuf)")
	fs.BoolVar(&o.keep, "keep", false, "keep the namespaces, policy and no-op webhooks afterwards")
	fs.BoolVar(&o.teardownOnly, "teardown", false, "only remove what an earlier run left")
	fs.StringVar(&o.out, "out", "", "write every round's measurements as JSON here")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, v := range splitComma(variants) {
		if _, ok := variantNamespaces[v]; !ok {
			return o, fmt.Errorf("-variants: unknown variant %q", v)
		}
		o.variants = append(o.variants, v)
	}
	if len(o.variants) == 0 || o.variants[0] != "none" {
		return o, errors.New(`-variants must start with "none" (the baseline every delta is taken against)`)
	}
	for _, c := range splitComma(conc) {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return o, fmt.Errorf("-concurrency: bad value %q", c)
		}
		o.concurrency = append(o.concurrency, n)
	}
	if o.rounds < 1 || o.duration <= 0 {
		return o, errors.New("-rounds and -duration must be positive")
	}
	for _, v := range o.variants {
		if _, ok := noopServerOf(v); ok && !o.teardownOnly && (o.noopImage == "" || o.noopTLSDir == "") {
			return o, fmt.Errorf("variant %s needs -noop-image and -noop-tls-dir", v)
		}
	}
	return o, nil
}

func main() {
	o, err := parseOptions(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "admission:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "admission:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = float32(o.qps), o.burst
	cfg.UserAgent = "hdscale-bench-admission"
	// Warnings (hdscale's "kept ..." on every create) are counted, not logged.
	cfg.WarningHandler = rest.NoWarnings{}
	if !o.json {
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	s := &setup{client: client, dynamic: dyn, opts: o}
	if o.teardownOnly {
		return s.teardown(ctx)
	}
	pod, err := benchpod.ReadCasePod(o.casePath, "")
	if err != nil {
		return err
	}
	s.pod = pod
	res := Results{Case: o.casePath, Options: summary(o)}
	if res.Cluster, err = describeCluster(ctx, client); err != nil {
		return err
	}
	logf("cluster: %s", res.Cluster)
	if err := s.apply(ctx); err != nil {
		return err
	}
	if !o.keep {
		defer func() {
			tctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := s.teardown(tctx); err != nil {
				logf("teardown: %v", err)
			}
		}()
	}
	res.Admission = s.admissionInventory
	if res.Effects, err = s.checkEffects(ctx, pod); err != nil {
		return err
	}
	m := &measurer{client: client, cfg: cfg, setup: s, pod: pod, opts: o}
	for round := 1; round <= o.rounds; round++ {
		for _, c := range o.concurrency {
			for _, v := range rotate(o.variants, round-1) {
				r, err := m.measure(ctx, v, c)
				if err != nil {
					return fmt.Errorf("round %d, %s at concurrency %d: %w", round, v, c, err)
				}
				r.Round = round
				logf("round %d c=%-2d %-10s: %6.0f req/s p50 %6.2f ms p90 %6.2f ms p99 %6.2f ms apiserver %4.0f µs CPU/req, webhook %4.0f µs CPU/req, errors %d",
					round, c, v, r.Throughput, r.P50, r.P90, r.P99, r.APIServerCPUPerReq*1e6, r.WebhookCPUPerReq*1e6, r.Errors)
				res.Rounds = append(res.Rounds, r)
			}
		}
	}
	if o.out != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.out, b, 0o644); err != nil {
			return err
		}
	}
	writeReport(os.Stdout, res, o)
	return nil
}

func summary(o options) string {
	ct := "protobuf"
	if o.json {
		ct = "JSON"
	}
	return fmt.Sprintf("server-side dry-run pod creates (client-go, %s, QPS %.0f/burst %d, one HTTP/2 connection), closed loop at concurrency %s; %d rounds x (%v warm-up + %v measured) per concurrency and variant, variant order rotated each round",
		ct, o.qps, o.burst, joinInts(o.concurrency), o.rounds, o.warmup, o.duration)
}

// rotate returns vs rotated left by n (round-robin order per round).
func rotate(vs []string, n int) []string {
	out := make([]string, 0, len(vs))
	for i := range vs {
		out = append(out, vs[(i+n)%len(vs)])
	}
	return out
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, " and ")
}

func has(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
