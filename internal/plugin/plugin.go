// Package plugin is kubectl-hdscale, a kubectl plugin that shows what hdscale
// decided and why: pools and live node CPU (status), one pod's webhook
// decision and extender reasons (explain), and runtime pods whose decision is
// out of date (drift). It acts with the caller's kubeconfig and RBAC and only
// reads.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hdscale/hdscale/internal/version"
)

// Env is what Run needs from outside.
type Env struct {
	Stdout, Stderr io.Writer
	// Connect builds the clients (Connect in production, fakes in tests).
	Connect func(Options) (*Clients, error)
	// Now is the current time (sample and event ages).
	Now func() time.Time
}

// Main runs the plugin with the process's arguments and returns its exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return Run(ctx, args, Env{Stdout: stdout, Stderr: stderr, Connect: Connect, Now: time.Now})
}

// Run runs one command and returns the exit code: 0, 1 on failure (the error
// printed to Stderr), 2 on a usage error.
func Run(ctx context.Context, args []string, env Env) int {
	o, err := ParseArgs(args, env.Stderr)
	switch {
	case errors.Is(err, errHelp):
		return 0
	case err != nil:
		fmt.Fprintf(env.Stderr, "error: %v\nSee 'kubectl hdscale -h'.\n", err)
		return 2
	case len(o.Args) == 0:
		fmt.Fprint(env.Stderr, usage)
		return 2
	}
	if o.Args[0] == "version" { // needs no cluster
		fmt.Fprintln(env.Stdout, version.Get())
		return 0
	}
	cmd, ok := commands[o.Args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "error: unknown command %q (status, explain, drift, version)\nSee 'kubectl hdscale -h'.\n", o.Args[0])
		return 2
	}
	if err := cmd.check(o.Args[1:]); err != nil {
		fmt.Fprintf(env.Stderr, "error: %s: %v\nSee 'kubectl hdscale -h'.\n", o.Args[0], err)
		return 2
	}
	c, err := env.Connect(o)
	if err != nil {
		fmt.Fprintf(env.Stderr, "error: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	r := &runner{o: o, c: c, out: env.Stdout, warn: env.Stderr, now: env.Now}
	if err := cmd.run(ctx, r); err != nil {
		fmt.Fprintf(env.Stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

// runner carries what every command uses.
type runner struct {
	o    Options
	c    *Clients
	out  io.Writer
	warn io.Writer
	now  func() time.Time
}

// warnf prints a warning (kubectl style) to stderr.
func (r *runner) warnf(format string, args ...any) {
	fmt.Fprintf(r.warn, "Warning: "+format+"\n", args...)
}

// namespace is the namespace a namespaced command acts in.
func (r *runner) namespace() string {
	if r.o.Namespace != "" {
		return r.o.Namespace
	}
	if r.c.Namespace != "" {
		return r.c.Namespace
	}
	return "default"
}

type command struct {
	check func(args []string) error
	run   func(ctx context.Context, r *runner) error
}

func noArgs(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q", args)
	}
	return nil
}

var commands = map[string]command{
	"status": {check: noArgs, run: func(ctx context.Context, r *runner) error {
		s, err := r.status(ctx)
		if err != nil {
			return err
		}
		return r.print(s, s.table)
	}},
	"explain": {check: func(args []string) error {
		if len(args) != 1 {
			return errors.New("give one pod name: kubectl hdscale explain POD [-n NAMESPACE]")
		}
		return nil
	}, run: func(ctx context.Context, r *runner) error {
		e, err := r.explain(ctx, r.o.Args[1])
		if err != nil {
			return err
		}
		return r.print(e, e.table)
	}},
	"drift": {check: noArgs, run: func(ctx context.Context, r *runner) error {
		d, err := r.drift(ctx)
		if err != nil {
			return err
		}
		return r.print(d, d.table)
	}},
}
