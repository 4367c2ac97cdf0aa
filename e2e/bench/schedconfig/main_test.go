package main

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const shipped = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection: {leaderElect: true, resourceName: hdscale-scheduler}
clientConnection: {kubeconfig: "", qps: 50, burst: 100}
profiles:
- schedulerName: hdscale-scheduler
  percentageOfNodesToScore: 100
  plugins:
    score:
      disabled: [{name: "*"}]
extenders:
- urlPrefix: http://127.0.0.1:8888
  weight: 25
  nodeCacheCapable: true
`

func TestDerive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		o        options
		has      []string
		hasNot   []string
		parseErr bool
	}{
		{
			name:   "hdscale profile with extender",
			o:      options{Kubeconfig: "/kc", SchedulerName: "bench-hdscale", Extender: "http://127.0.0.1:28888", QPS: 5000},
			has:    []string{"schedulerName: bench-hdscale", "urlPrefix: http://127.0.0.1:28888", "weight: 25", "percentageOfNodesToScore: 100", "leaderElect: false", "qps: 5000", "kubeconfig: /kc"},
			hasNot: []string{"http://127.0.0.1:8888\n", "resourceName"},
		},
		{
			name:   "same profile without extender",
			o:      options{Kubeconfig: "/kc", SchedulerName: "bench-profile", QPS: 5000},
			has:    []string{"schedulerName: bench-profile", "percentageOfNodesToScore: 100", "disabled"},
			hasNot: []string{"extenders", "urlPrefix"},
		},
		{
			name:   "stock default profile",
			o:      options{Kubeconfig: "/kc", SchedulerName: "default-scheduler", Stock: true, QPS: 5000},
			has:    []string{"schedulerName: default-scheduler"},
			hasNot: []string{"extenders", "plugins", "percentageOfNodesToScore"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := derive([]byte(shipped), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			s := string(out)
			for _, w := range tt.has {
				if !strings.Contains(s, w) {
					t.Errorf("missing %q in\n%s", w, s)
				}
			}
			for _, w := range tt.hasNot {
				if strings.Contains(s, w) {
					t.Errorf("unexpected %q in\n%s", w, s)
				}
			}
			var back map[string]any
			if err := yaml.Unmarshal(out, &back); err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
		})
	}
}

func TestDeriveRejects(t *testing.T) {
	t.Parallel()
	o := options{Kubeconfig: "/kc", SchedulerName: "x", Extender: "http://e"}
	for name, in := range map[string]string{
		"not yaml":        "{",
		"wrong kind":      "kind: Pod",
		"two profiles":    "kind: KubeSchedulerConfiguration\nprofiles: [{schedulerName: a}, {schedulerName: b}]",
		"extender absent": "kind: KubeSchedulerConfiguration\nprofiles: [{schedulerName: a}]",
	} {
		if _, err := derive([]byte(in), o); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
