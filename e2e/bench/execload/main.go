// Command execload is the client of the makespan benchmark: it runs in a pod
// of the kind cluster, opens -connections kept-alive HTTP connections to the
// runtime Service (a ClusterIP through kube-proxy, as hetida's backend reaches
// the runtime) and runs a batch of -executions POST /engine/runtime requests
// of -cpu-seconds each through them. Each connection is one HTTP client with
// a single persistent connection, so kube-proxy picks its backend pod once,
// when it connects; the connections take the batch's executions from one
// shared queue, one request in flight each.
//
// Before the batch every connection connects (GET /engine/info) and all wait
// for each other, so connection setup is not part of the makespan. Output,
// on stdout: one JSON line per execution (record), then one summary line.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type options struct {
	URL         string
	Executions  int
	CPUSeconds  float64
	Connections int
	Timeout     time.Duration
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("execload", flag.ContinueOnError)
	fs.StringVar(&o.URL, "url", "", "runtime base URL, e.g. http://runtime.ns.svc:8090")
	fs.IntVar(&o.Executions, "executions", 24, "executions in the batch")
	fs.Float64Var(&o.CPUSeconds, "cpu-seconds", 1, "CPU-seconds each execution burns")
	fs.IntVar(&o.Connections, "connections", 6, "kept-alive connections (one request in flight each)")
	fs.DurationVar(&o.Timeout, "timeout", 15*time.Minute, "give up on the batch after this long")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.URL == "":
		return o, fmt.Errorf("-url is required")
	case o.Executions < 1 || o.Connections < 1:
		return o, fmt.Errorf("-executions %d and -connections %d must be at least 1", o.Executions, o.Connections)
	case o.CPUSeconds <= 0:
		return o, fmt.Errorf("-cpu-seconds %v must be positive", o.CPUSeconds)
	}
	return o, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:])
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		err = runBatch(ctx, o, json.NewEncoder(os.Stdout))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "execload: %v\n", err)
		os.Exit(1)
	}
}
