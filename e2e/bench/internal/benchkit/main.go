package benchkit

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main is a benchmark driver's main: parse the arguments, run until done or
// interrupted (SIGINT, SIGTERM cancel ctx), report an error as "name: err"
// on stderr with exit status 1.
func Main[O any](name string, parse func([]string) (O, error), run func(context.Context, O, io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	opts, err := parse(os.Args[1:])
	if err == nil {
		err = run(ctx, opts, os.Stdout)
	}
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}
