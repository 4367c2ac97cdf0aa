// Command schedconfig writes the KubeSchedulerConfiguration a benchmark
// scheduler runs with, derived from hdscale's shipped configuration
// (manifests/scheduler/kube-scheduler-config.yaml) so the benchmarks measure
// the profile users get:
//
//	schedconfig -in manifests/scheduler/kube-scheduler-config.yaml -out F \
//	  -kubeconfig KC -scheduler-name NAME [-extender URL] [-stock] [-qps 5000]
//
// It changes only what a local benchmark needs: leader election off, the
// kubeconfig and client rate limits, the profile's schedulerName and the
// extender's urlPrefix. Without -extender the extenders are removed (the same
// profile without hdscale); -stock also drops the profile's plugin and
// percentageOfNodesToScore settings (kube-scheduler's default profile).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

type options struct {
	In, Out, Kubeconfig, SchedulerName, Extender string
	Stock                                        bool
	QPS                                          int
}

func main() {
	var o options
	flag.StringVar(&o.In, "in", "manifests/scheduler/kube-scheduler-config.yaml", "hdscale's KubeSchedulerConfiguration")
	flag.StringVar(&o.Out, "out", "", "file to write")
	flag.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig the scheduler uses")
	flag.StringVar(&o.SchedulerName, "scheduler-name", "", "schedulerName of the (single) profile")
	flag.StringVar(&o.Extender, "extender", "", "extender urlPrefix (empty: no extender)")
	flag.BoolVar(&o.Stock, "stock", false, "kube-scheduler's default profile instead of hdscale's")
	flag.IntVar(&o.QPS, "qps", 5000, "client QPS and burst (the default 50/100 would cap binding)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "schedconfig: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.Out == "" || o.Kubeconfig == "" || o.SchedulerName == "" {
		return errors.New("-out, -kubeconfig and -scheduler-name are required")
	}
	raw, err := os.ReadFile(o.In)
	if err != nil {
		return fmt.Errorf("reading %s: %w", o.In, err)
	}
	out, err := derive(raw, o)
	if err != nil {
		return fmt.Errorf("%s: %w", o.In, err)
	}
	if err := os.WriteFile(o.Out, out, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", o.Out, err)
	}
	return nil
}

// derive is the pure transformation of the shipped configuration.
func derive(raw []byte, o options) ([]byte, error) {
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("parsing: %w", err)
	}
	if cfg["kind"] != "KubeSchedulerConfiguration" {
		return nil, fmt.Errorf("kind %v is not KubeSchedulerConfiguration", cfg["kind"])
	}
	profiles, ok := cfg["profiles"].([]any)
	if !ok || len(profiles) != 1 {
		return nil, fmt.Errorf("want exactly one profile, got %v", cfg["profiles"])
	}
	profile, ok := profiles[0].(map[string]any)
	if !ok {
		return nil, errors.New("profile is not a mapping")
	}
	cfg["leaderElection"] = map[string]any{"leaderElect": false}
	cfg["clientConnection"] = map[string]any{"kubeconfig": o.Kubeconfig, "qps": o.QPS, "burst": o.QPS}
	profile["schedulerName"] = o.SchedulerName
	if o.Stock {
		for k := range profile {
			if k != "schedulerName" {
				delete(profile, k)
			}
		}
	}
	if o.Extender == "" {
		delete(cfg, "extenders")
	} else {
		exts, ok := cfg["extenders"].([]any)
		if !ok || len(exts) != 1 {
			return nil, fmt.Errorf("want exactly one extender, got %v", cfg["extenders"])
		}
		ext, ok := exts[0].(map[string]any)
		if !ok {
			return nil, errors.New("extender is not a mapping")
		}
		ext["urlPrefix"] = o.Extender
	}
	return yaml.Marshal(cfg)
}
