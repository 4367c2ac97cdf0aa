package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hdscale/hdscale/internal/policy"
)

// variant is one scheduler under test.
type variant struct {
	Name      string
	Scheduler string
}

type options struct {
	Kubeconfig   string
	Nodes        int
	NodeCPU      int64
	Loads        []float64
	Pool         string
	Pattern      policy.Pattern
	Replicas     int
	Executions   int
	ExecCPU      float64
	Rounds       int
	Seed         int64
	Settle       time.Duration
	RoundTimeout time.Duration
	Out          string
	PlotDir      string
	Variants     []variant
}

type variantFlags []variant

func (v *variantFlags) String() string { return fmt.Sprint(*v) }

func (v *variantFlags) Set(s string) error {
	name, sched, ok := strings.Cut(s, "=")
	if !ok || name == "" || sched == "" {
		return fmt.Errorf("variant %q must be NAME=SCHEDULERNAME", s)
	}
	*v = append(*v, variant{Name: name, Scheduler: sched})
	return nil
}

func parseLoads(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("load %q is not a number", f)
		}
		out = append(out, x)
	}
	return out, nil
}

func parseFlags(args []string) (options, error) {
	var o options
	var vs variantFlags
	var loads, pattern string
	fs := flag.NewFlagSet("placement", flag.ContinueOnError)
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of the local control plane (localcp.sh env)")
	fs.Int64Var(&o.NodeCPU, "node-cpu", 4, "allocatable CPU cores per node")
	fs.StringVar(&loads, "loads", "0,0.5,1,2,3,3.5", "background CPU per node in cores (one node each; permuted per round)")
	fs.StringVar(&o.Pool, "pool", "runtime", "pool name (node label/taint hdscale.io/pool)")
	fs.StringVar(&pattern, "pattern", string(policy.PerCore), "runtime pattern: per-core, per-node or per-node-single")
	fs.IntVar(&o.Replicas, "replicas", 12, "runtime replicas (Deployment size)")
	fs.IntVar(&o.Executions, "executions", 48, "executions in the simulated batch")
	fs.Float64Var(&o.ExecCPU, "exec-cpu", 10, "CPU-seconds per execution")
	fs.IntVar(&o.Rounds, "rounds", 5, "rounds (seeds seed..seed+rounds-1)")
	fs.Int64Var(&o.Seed, "seed", 1, "first seed (load permutation)")
	fs.DurationVar(&o.Settle, "settle", 20*time.Second, "wait after NodeMetrics shows the loads, so the extender's metrics cache has refreshed")
	fs.DurationVar(&o.RoundTimeout, "round-timeout", 3*time.Minute, "give up waiting for bindings after this long")
	fs.StringVar(&o.Out, "out", "", "write the results as JSON to this file")
	fs.StringVar(&o.PlotDir, "plot-dir", "", "write gnuplot data files (nodes.dat, rounds.dat) here")
	fs.Var(&vs, "variant", "NAME=SCHEDULERNAME of a scheduler under test (repeat; first is the baseline)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.Loads, err = parseLoads(loads); err != nil {
		return o, err
	}
	o.Nodes = len(o.Loads)
	o.Pattern = policy.Pattern(pattern)
	o.Variants = vs
	return o, o.Validate()
}

// Validate reports the first unusable option.
func (o options) Validate() error {
	switch {
	case o.Kubeconfig == "":
		return errors.New("-kubeconfig is required")
	case o.NodeCPU < 1:
		return fmt.Errorf("-node-cpu %d must be at least 1", o.NodeCPU)
	case !o.Pattern.Valid():
		return fmt.Errorf("-pattern %q must be one of %v", o.Pattern, policy.Patterns)
	case o.Replicas < 1:
		return fmt.Errorf("-replicas %d must be at least 1", o.Replicas)
	case o.Executions < 1 || o.ExecCPU <= 0:
		return fmt.Errorf("-executions %d and -exec-cpu %v must be positive", o.Executions, o.ExecCPU)
	case o.Rounds < 1:
		return fmt.Errorf("-rounds %d must be at least 1", o.Rounds)
	case len(o.Variants) < 2:
		return errors.New("two -variant flags are required (baseline first)")
	}
	for _, l := range o.Loads {
		if l < 0 || l >= float64(o.NodeCPU) {
			return fmt.Errorf("load %v must be in [0, node-cpu)", l)
		}
	}
	return nil
}
