// Command webhookload benchmarks hdscale's admission webhook in isolation
// (docs/benchmarks.md, "Webhook in isolation"; driven by
// e2e/tools/bench-webhook.sh).
//
//	webhookload serve -tls-cert-file F -tls-key-file F -addr-file F
//
// runs hdscale's webhook server exactly as cmd/webhook does (webhook.Run),
// against client-go's fake clientset holding one namespace labelled
// hdscale.io/pattern=per-core and three Ready pool nodes, over TLS on
// 127.0.0.1. Its opts.Clock is the real clock that also records every
// handler duration (the span of hdscale_webhook_admission_duration_seconds)
// into a fine log-linear histogram, served with process statistics
// (getrusage CPU, runtime.MemStats, VmHWM) and pprof on a control port.
//
//	webhookload run -hdscale-url U -hdscale-control U -hdscale-metrics U -ca F [-noop-url U -noop-metrics U]
//
// sends real AdmissionReview bodies (a webhook/testdata pod as kube-apiserver
// hands it over: defaulted, with managedFields, service-account volume and
// default tolerations) at fixed open-loop rates over keep-alive HTTP/1.1
// connections like kube-apiserver's webhook client, to hdscale and, as the
// floor of any webhook hop, to e2e/bench/noopwebhook, interleaved, and
// prints markdown tables (and -out JSON).
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: webhookload serve|run [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serveMain(os.Args[2:])
	case "run":
		err = runMain(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (serve or run)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhookload:", err)
		os.Exit(1)
	}
}
