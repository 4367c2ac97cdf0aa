// Command noopwebhook is a minimal mutating admission webhook that admits
// every object unchanged: the floor of any webhook hop, for hdscale's
// benchmarks (docs/benchmarks.md). It uses only the standard library and
// builds as a static binary.
//
// It decodes the AdmissionReview (as any Go webhook must, to answer with the
// request's uid) and answers {"allowed":true}; nothing else. With
// -patch-annotation KEY[=VALUE] it also answers every request carrying an
// object with the smallest useful JSON patch, one "add" of that annotation
// (value "1" by default): to /metadata/annotations/KEY when the object has
// annotations, else of the whole annotations map (or metadata), deciding by
// the presence of metadata.annotations alone. That is the floor of a
// webhook that mutates: the API server must apply the patch. Endpoints on
// the one TLS listener:
//
//	POST /mutate   the webhook
//	GET  /healthz  "ok"
//	GET  /metrics  request count, process CPU, allocations, peak RSS (text
//	               exposition format, for the benchmark drivers)
//
// Usage:
//
//	noopwebhook -listen :8443 -tls-cert-file tls.crt -tls-key-file tls.key [-patch-annotation KEY[=VALUE]]
//	noopwebhook gencert -dir DIR -hosts name[,name...]
//
// gencert writes a self-signed CA (ca.crt) and a serving certificate signed
// by it (tls.crt, tls.key) for the given DNS names and IP addresses; the
// benchmark scripts use it for this webhook and for hdscale's bench harness.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "gencert" {
		if err := gencertMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "noopwebhook gencert:", err)
			os.Exit(1)
		}
		return
	}
	if err := serveMain(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "noopwebhook:", err)
		os.Exit(1)
	}
}

func serveMain(args []string) error {
	fs := flag.NewFlagSet("noopwebhook", flag.ContinueOnError)
	listen := fs.String("listen", ":8443", "HTTPS address")
	certFile := fs.String("tls-cert-file", "", "serving certificate (PEM)")
	keyFile := fs.String("tls-key-file", "", "private key of -tls-cert-file (PEM)")
	addrFile := fs.String("addr-file", "", "write the bound address to this file once listening")
	patchAnnotation := fs.String("patch-annotation", "", "KEY[=VALUE]: answer with a JSON patch adding this annotation (VALUE defaults to 1) instead of no patch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h := newHandler()
	if *patchAnnotation != "" {
		key, value, ok := strings.Cut(*patchAnnotation, "=")
		if !ok {
			value = "1"
		}
		var err error
		if h, err = newPatchingHandler(key, value); err != nil {
			return fmt.Errorf("-patch-annotation: %w", err)
		}
	}
	if *certFile == "" || *keyFile == "" {
		return errors.New("-tls-cert-file and -tls-key-file are required")
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return fmt.Errorf("loading the certificate: %w", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/mutate", h)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/metrics", h.serveMetrics)
	srv := &http.Server{
		Handler:           mux,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          log.New(os.Stderr, "noopwebhook: ", log.LstdFlags),
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	mode := "no patch"
	if h.patch != nil {
		mode = "patching annotation " + *patchAnnotation
	}
	fmt.Fprintf(os.Stderr, "noopwebhook: serving on %s (%s)\n", ln.Addr(), mode)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}
