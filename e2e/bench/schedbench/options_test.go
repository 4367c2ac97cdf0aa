package main

import "testing"

func TestParseFlags(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"-kubeconfig", "kc", "-mode", "burst",
		"-variant", "name=a,scheduler=sa,metrics=https://127.0.0.1:1/metrics,pid=12",
		"-variant", "name=b,scheduler=sb,extender=http://127.0.0.1:2/metrics,pid=13"})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Variants) != 2 || o.Variants[0].PID != 12 || o.Variants[1].Extender == "" || o.Variants[0].Metrics == "" {
		t.Fatalf("parsed %+v", o.Variants)
	}
	for name, args := range map[string][]string{
		"burst without pid": {"-kubeconfig", "kc", "-mode", "burst", "-variant", "name=a,scheduler=s"},
		"unknown key":       {"-kubeconfig", "kc", "-variant", "name=a,scheduler=s,x=y"},
		"same name twice":   {"-kubeconfig", "kc", "-variant", "name=a,scheduler=s", "-variant", "name=a,scheduler=t"},
		"too many pods":     {"-kubeconfig", "kc", "-nodes", "1", "-node-cpu", "2", "-pods", "3", "-variant", "name=a,scheduler=s"},
		"bad mode":          {"-kubeconfig", "kc", "-mode", "x", "-variant", "name=a,scheduler=s"},
		"no variant":        {"-kubeconfig", "kc"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	o := options{Mode: "e2e", Variants: []variant{{Name: "base", Scheduler: "s1"}, {Name: "ext", Scheduler: "s2"}}}
	rounds := []roundResult{
		{Variant: "base", Pods: 10, Bound: 10, PodsPerSecond: 100},
		{Variant: "ext", Pods: 10, Bound: 9, PodsPerSecond: 70},
		{Variant: "ext", Pods: 10, Bound: 10, PodsPerSecond: 90},
		{Variant: "base", Pods: 10, Bound: 10, PodsPerSecond: 100},
	}
	rep := summarize(o, rounds)
	if got := rep.Ratios["ext"]; got != 0.8 {
		t.Fatalf("ratio = %v, want 0.8", got)
	}
	if rep.Variants[1].Unbound != 1 || rep.Variants[1].MinPodsPerSecond != 70 {
		t.Fatalf("summary %+v", rep.Variants[1])
	}
}
