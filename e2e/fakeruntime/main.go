// Command fakeruntime is a stand-in for hetida designer's Python runtime
// service: it answers the runtime's readiness endpoint and burns CPU per
// workflow execution on a fixed pool of WEB_CONCURRENCY workers, so hdscale's
// e2e tests, demo and benchmarks can run without the real image. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "fakeruntime: %v\n", err)
		os.Exit(1)
	}
}
