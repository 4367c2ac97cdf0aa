package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/hdscale/hdscale/internal/policy"
)

// variant is one scheduler under test: the namespace label
// hdscale.io/scheduler it gets ("default": the webhook sizes the pods and
// sets the pool's toleration and selector but leaves schedulerName
// default-scheduler; "hdscale": hdscale-scheduler with the extender).
type variant struct {
	Name      string
	Scheduler string
}

var variants = []variant{{Name: "default", Scheduler: policy.SchedulerDefault}, {Name: "hdscale", Scheduler: policy.SchedulerHdscale}}

type options struct {
	Kubeconfig   string
	Pool         string
	Pattern      policy.Pattern
	Replicas     int
	CPU          string // namespace hdscale.io/cpu label ("" = none)
	WorkersPer   int    // namespace hdscale.io/workers-per-core label (0 = none)
	Quota        float64
	Background   float64
	Executions   int
	ExecCPU      float64
	Connections  int
	Rounds       int
	RuntimeImage string
	ClientImage  string
	BurnerPath   string // dutyburn inside the node containers
	Settle       time.Duration
	Timeout      time.Duration
	Out          string
}

func parseFlags(args []string) (options, error) {
	var o options
	var pattern string
	fs := flag.NewFlagSet("makespan", flag.ContinueOnError)
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of the kind cluster")
	fs.StringVar(&o.Pool, "pool", policy.DefaultPool, "pool name (node label/taint hdscale.io/pool)")
	fs.StringVar(&pattern, "pattern", string(policy.PerCore), "runtime pattern: per-core, per-node or per-node-single")
	fs.IntVar(&o.Replicas, "replicas", 4, "runtime replicas (Deployment size)")
	fs.StringVar(&o.CPU, "cpu", "", "namespace label hdscale.io/cpu (per-pod CPU override), empty for none")
	fs.IntVar(&o.WorkersPer, "workers-per-core", 0, "namespace label hdscale.io/workers-per-core, 0 for none")
	fs.Float64Var(&o.Quota, "quota", 0.25, "CPU quota of each pool node container, in cores (set by the script; used by the model)")
	fs.Float64Var(&o.Background, "background", 0.2, "background load on the loaded node, in cores (dutyburn -cores)")
	fs.IntVar(&o.Executions, "executions", 24, "executions in the batch")
	fs.Float64Var(&o.ExecCPU, "exec-cpu", 0.5, "CPU-seconds per execution")
	fs.IntVar(&o.Connections, "connections", 16, "kept-alive client connections to the runtime Service")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds (the loaded node rotates over the pool nodes)")
	fs.StringVar(&o.RuntimeImage, "runtime-image", "", "the fake runtime under the runtime image name the webhook matches")
	fs.StringVar(&o.ClientImage, "client-image", "", "image of e2e/bench/execload")
	fs.StringVar(&o.BurnerPath, "burner", "/usr/local/bin/hdscale-dutyburn", "path of dutyburn inside the node containers")
	fs.DurationVar(&o.Settle, "settle", 20*time.Second, "wait after NodeMetrics shows the background, so the extender's metrics cache has it")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "give up waiting for a step after this long")
	fs.StringVar(&o.Out, "out", "", "write the results as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.Pattern = policy.Pattern(pattern)
	return o, o.Validate()
}

// Validate reports the first unusable option.
func (o options) Validate() error {
	switch {
	case o.Kubeconfig == "":
		return errors.New("-kubeconfig is required")
	case !o.Pattern.Valid():
		return fmt.Errorf("-pattern %q must be one of %v", o.Pattern, policy.Patterns)
	case o.Replicas < 1:
		return fmt.Errorf("-replicas %d must be at least 1", o.Replicas)
	case o.Quota <= 0:
		return fmt.Errorf("-quota %v must be positive", o.Quota)
	case o.Background <= 0 || o.Background >= o.Quota:
		return fmt.Errorf("-background %v must be in (0, quota %v)", o.Background, o.Quota)
	case o.Executions < 1 || o.ExecCPU <= 0 || o.Connections < 1:
		return fmt.Errorf("-executions %d, -exec-cpu %v and -connections %d must be positive", o.Executions, o.ExecCPU, o.Connections)
	case o.Rounds < 1:
		return fmt.Errorf("-rounds %d must be at least 1", o.Rounds)
	case o.RuntimeImage == "" || o.ClientImage == "":
		return errors.New("-runtime-image and -client-image are required")
	}
	return nil
}
