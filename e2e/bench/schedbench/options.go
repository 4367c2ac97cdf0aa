package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// variant is one scheduler under test.
type variant struct {
	Name      string // report name, e.g. "default" or "hdscale"
	Scheduler string // the pods' schedulerName
	Metrics   string // the scheduler's /metrics URL ("" = no latency figures)
	Extender  string // the extender's /metrics URL ("" = none)
	PID       int    // the scheduler's process id (burst mode pauses it)
}

type options struct {
	Kubeconfig    string
	Nodes         int
	PoolNodes     int   // nodes in the pool (the rest are ordinary nodes)
	NodeCPU       int64 // cores per node
	BackgroundMax float64
	Pool          string
	Namespace     string
	Pods          int
	Rounds        int
	Mode          string
	Parallel      int
	Seed          int64
	RoundTimeout  time.Duration
	IdleWindow    time.Duration
	WaitMetrics   bool
	KeepNodes     bool
	Out           string
	Variants      []variant
	// Track are other processes whose CPU per pod each round reports
	// (extender, kube-apiserver, etcd, kwok, ...).
	Track []tracked
}

// tracked is a process whose CPU use is measured per round.
type tracked struct {
	Name string
	PID  int
}

type trackFlags []tracked

func (t *trackFlags) String() string { return fmt.Sprint(*t) }

func (t *trackFlags) Set(s string) error {
	name, p, ok := strings.Cut(s, "=")
	pid, err := strconv.Atoi(p)
	if !ok || name == "" || err != nil || pid <= 0 {
		return fmt.Errorf("track %q must be NAME=PID", s)
	}
	*t = append(*t, tracked{Name: name, PID: pid})
	return nil
}

type variantFlags []variant

func (v *variantFlags) String() string { return fmt.Sprint(*v) }

func (v *variantFlags) Set(s string) error {
	var x variant
	for _, kv := range strings.Split(s, ",") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("variant %q: %q is not key=value", s, kv)
		}
		switch k {
		case "name":
			x.Name = val
		case "scheduler":
			x.Scheduler = val
		case "metrics":
			x.Metrics = val
		case "extender":
			x.Extender = val
		case "pid":
			pid, err := strconv.Atoi(val)
			if err != nil || pid <= 0 {
				return fmt.Errorf("variant %q: pid %q is not a process id", s, val)
			}
			x.PID = pid
		default:
			return fmt.Errorf("variant %q: unknown key %q (name, scheduler, metrics, extender, pid)", s, k)
		}
	}
	*v = append(*v, x)
	return nil
}

func parseFlags(args []string) (options, error) {
	var o options
	var vs variantFlags
	var ts trackFlags
	fs := flag.NewFlagSet("schedbench", flag.ContinueOnError)
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of the local control plane (localcp.sh env)")
	fs.IntVar(&o.Nodes, "nodes", 1000, "KWOK fake nodes in the pool")
	fs.IntVar(&o.PoolNodes, "pool-nodes", 0, "nodes in the runtime pool; the others are ordinary nodes without pool label and taint (0: all)")
	fs.Int64Var(&o.NodeCPU, "node-cpu", 32, "allocatable CPU cores per node")
	fs.Float64Var(&o.BackgroundMax, "background-max", 8, "emulated background CPU per node: uniform in [0, this] cores (seeded)")
	fs.StringVar(&o.Pool, "pool", "runtime", "pool name (node label/taint hdscale.io/pool)")
	fs.StringVar(&o.Namespace, "namespace", "schedbench", "namespace of the pods")
	fs.IntVar(&o.Pods, "pods", 1000, "pods per round")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds per scheduler (interleaved, order alternating)")
	fs.StringVar(&o.Mode, "mode", "e2e", "e2e (create while scheduling) or burst (scheduler paused while creating)")
	fs.IntVar(&o.Parallel, "parallel", 32, "concurrent create requests")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the background load")
	fs.DurationVar(&o.RoundTimeout, "round-timeout", 10*time.Minute, "give up on a round after this long")
	fs.DurationVar(&o.IdleWindow, "idle-window", 15*time.Second, "before each round, measure the processes' idle CPU for this long (0: off)")
	fs.BoolVar(&o.WaitMetrics, "wait-metrics", true, "wait until NodeMetrics reports every node's background load")
	fs.BoolVar(&o.KeepNodes, "keep-nodes", true, "leave the fake nodes for the next run")
	fs.StringVar(&o.Out, "out", "", "write the results as JSON to this file")
	fs.Var(&vs, "variant", "scheduler under test: name=N,scheduler=SCHEDULERNAME[,metrics=URL][,extender=URL][,pid=PID] (repeat)")
	fs.Var(&ts, "track", "NAME=PID of another process whose CPU per pod is reported (repeat)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.Variants, o.Track = vs, ts
	if o.PoolNodes == 0 {
		o.PoolNodes = o.Nodes
	}
	return o, o.Validate()
}

// Validate reports the first unusable option.
func (o options) Validate() error {
	switch {
	case o.Kubeconfig == "":
		return errors.New("-kubeconfig is required")
	case o.Nodes < 1 || o.Nodes > 10000:
		return fmt.Errorf("-nodes %d out of range 1..10000", o.Nodes)
	case o.NodeCPU < 1:
		return fmt.Errorf("-node-cpu %d must be at least 1", o.NodeCPU)
	case o.BackgroundMax < 0 || o.BackgroundMax > float64(o.NodeCPU):
		return fmt.Errorf("-background-max %v out of range 0..node-cpu", o.BackgroundMax)
	case o.Pods < 1:
		return fmt.Errorf("-pods %d must be at least 1", o.Pods)
	case o.PoolNodes < 1 || o.PoolNodes > o.Nodes:
		return fmt.Errorf("-pool-nodes %d out of range 1..nodes", o.PoolNodes)
	case int64(o.Pods) > int64(o.PoolNodes)*o.NodeCPU:
		return fmt.Errorf("-pods %d exceed the pool's per-core capacity %d", o.Pods, int64(o.PoolNodes)*o.NodeCPU)
	case o.Rounds < 1:
		return fmt.Errorf("-rounds %d must be at least 1", o.Rounds)
	case o.Mode != "e2e" && o.Mode != "burst":
		return fmt.Errorf("-mode %q must be e2e or burst", o.Mode)
	case o.Parallel < 1:
		return fmt.Errorf("-parallel %d must be at least 1", o.Parallel)
	case len(o.Variants) == 0:
		return errors.New("at least one -variant is required")
	}
	seen := map[string]bool{}
	for _, v := range o.Variants {
		switch {
		case v.Name == "" || v.Scheduler == "":
			return fmt.Errorf("variant %+v needs name and scheduler", v)
		case seen[v.Name]:
			return fmt.Errorf("variant name %q repeated", v.Name)
		case o.Mode == "burst" && v.PID == 0:
			return fmt.Errorf("variant %q: burst mode needs pid=", v.Name)
		}
		seen[v.Name] = true
	}
	return nil
}
