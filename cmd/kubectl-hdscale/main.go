// Command kubectl-hdscale is a kubectl plugin that shows what hdscale decided
// and why. Install it with `go install ./cmd/kubectl-hdscale` (the binary on
// PATH makes `kubectl hdscale` work); see internal/plugin.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hdscale/hdscale/internal/plugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := plugin.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
