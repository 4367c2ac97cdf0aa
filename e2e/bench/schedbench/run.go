package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand"
	"time"

	"github.com/hdscale/hdscale/e2e/bench/internal/benchkit"
	"github.com/hdscale/hdscale/internal/policy"
)

const benchName = "schedbench"

func run(ctx context.Context, o options, out io.Writer) error {
	c, err := benchkit.NewClients(o.Kubeconfig)
	if err != nil {
		return err
	}
	if err := setupNodes(ctx, c, o); err != nil {
		return err
	}
	if err := benchkit.EnsureNamespace(ctx, c, o.Namespace); err != nil {
		return err
	}
	// Leftovers of an interrupted run would count against the caps.
	if err := benchkit.DeletePods(ctx, c, o.Namespace, benchkit.LabelBench, 5*time.Minute); err != nil {
		return err
	}
	var results []roundResult
	for r := 0; r < o.Rounds; r++ {
		order := make([]variant, len(o.Variants))
		copy(order, o.Variants)
		if r%2 == 1 { // ABBA: alternate the order so drift hits both alike
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, v := range order {
			res, err := runRound(ctx, c, o, v, r)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r, v.Name, err)
			}
			log.Printf("round %d %-8s %s: %d/%d bound, %.1f pods/s (create %.1fs, bind span %.1fs, algorithm mean %.2fms p99 %.2fms)",
				r, v.Name, o.Mode, res.Bound, res.Pods, res.PodsPerSecond, res.CreateSeconds, res.BindSpanSeconds,
				res.AlgoMeanMs, res.AlgoP99Ms)
			results = append(results, res)
		}
	}
	rep := summarize(o, results)
	if o.Out != "" {
		if err := benchkit.WriteJSON(o.Out, rep); err != nil {
			return err
		}
	}
	rep.markdown(out)
	if !o.KeepNodes {
		return benchkit.DeleteNodes(ctx, c, benchkit.LabelBench+"="+benchName, 5*time.Minute)
	}
	return nil
}

// setupNodes creates the pool: o.Nodes equal nodes with a seeded uniform
// background load, waits until they are Ready and, optionally, until
// NodeMetrics reports their load (the extender scores live CPU).
func setupNodes(ctx context.Context, c *benchkit.Clients, o options) error {
	start := time.Now()
	if err := benchkit.DeleteOtherBenchNodes(ctx, c, benchName); err != nil {
		return err
	}
	rng := rand.New(rand.NewSource(o.Seed))
	specs := make([]benchkit.NodeSpec, o.Nodes)
	want := make(map[string]float64, o.Nodes)
	for i := range specs {
		bg := float64(int(rng.Float64()*o.BackgroundMax*10)) / 10 // 0.1-core steps
		pool := o.Pool
		if i >= o.PoolNodes {
			pool = ""
		}
		specs[i] = benchkit.NodeSpec{
			Name: fmt.Sprintf("sb-node-%04d", i), Pool: pool, CPUMilli: o.NodeCPU * 1000,
			BackgroundCPU: bg, Bench: benchName,
		}
		want[specs[i].Name] = bg
	}
	if err := benchkit.CreateNodes(ctx, c, specs, 32); err != nil {
		return err
	}
	if err := benchkit.WaitNodesReady(ctx, c, benchkit.LabelBench+"="+benchName, o.Nodes, 15*time.Minute); err != nil {
		return err
	}
	log.Printf("%d nodes Ready after %.1fs", o.Nodes, time.Since(start).Seconds())
	if o.WaitMetrics {
		if err := benchkit.WaitNodeMetrics(ctx, c, want, 0.15, 15*time.Minute); err != nil {
			return err
		}
		log.Printf("NodeMetrics of %d nodes as emulated after %.1fs", o.Nodes, time.Since(start).Seconds())
	}
	return nil
}

// roundResult is one round of one scheduler.
type roundResult struct {
	Variant         string  `json:"variant"`
	Round           int     `json:"round"`
	Mode            string  `json:"mode"`
	Pods            int     `json:"pods"`
	Bound           int     `json:"bound"`
	CreateSeconds   float64 `json:"createSeconds"`
	TotalSeconds    float64 `json:"totalSeconds"`
	BindSpanSeconds float64 `json:"bindSpanSeconds"`
	PodsPerSecond   float64 `json:"podsPerSecond"`
	AlgoMeanMs      float64 `json:"algorithmMeanMs"`
	AlgoP50Ms       float64 `json:"algorithmP50Ms"`
	AlgoP99Ms       float64 `json:"algorithmP99Ms"`
	// Extender request durations as the extender measures them, per verb.
	ExtFilterMeanMs     float64 `json:"extenderFilterMeanMs,omitempty"`
	ExtFilterP99Ms      float64 `json:"extenderFilterP99Ms,omitempty"`
	ExtPrioritizeMeanMs float64 `json:"extenderPrioritizeMeanMs,omitempty"`
	ExtPrioritizeP99Ms  float64 `json:"extenderPrioritizeP99Ms,omitempty"`
	NodesUsed           int     `json:"nodesUsed"`
	MaxPerNode          int     `json:"maxPerNode"`
	OverCap             int     `json:"overCap"`
	LoadAvg             float64 `json:"loadAvg1m"`
	// CPUMsPerPod is the CPU each measured process used during the round
	// (first create to last bound) divided by the pods bound: "scheduler" is
	// the scheduler under test, the rest are the -track processes.
	CPUMsPerPod map[string]float64 `json:"cpuMsPerPod,omitempty"`
	// NetCPUMsPerPod is CPUMsPerPod minus each process's idle CPU rate
	// (measured just before the round) times the round's duration.
	NetCPUMsPerPod map[string]float64 `json:"netCpuMsPerPod,omitempty"`
}

// algoMetric is kube-scheduler's time per scheduling algorithm run (filter
// and score of one pod, extender calls included; binding excluded). Each
// scheduler under test is its own process, so the histogram is unlabelled.
const algoMetric = "scheduler_scheduling_algorithm_duration_seconds"

func runRound(ctx context.Context, c *benchkit.Clients, o options, v variant, round int) (roundResult, error) {
	res := roundResult{Variant: v.Name, Round: round, Mode: o.Mode, Pods: o.Pods}
	label := fmt.Sprintf("%s-r%d-%s", benchName, round, v.Name)
	tmpl := benchkit.RuntimePod{
		Namespace: o.Namespace, Pool: o.Pool, Pattern: policy.PerCore, NodeCPUMilli: o.NodeCPU * 1000,
		SchedulerName: v.Scheduler, Bench: label,
	}
	sel := benchkit.LabelBench + "=" + label
	watch, err := benchkit.WatchBindings(ctx, c, o.Namespace, sel)
	if err != nil {
		return res, err
	}
	defer watch.Stop()
	before := scrape(ctx, v)
	extBefore := scrapeExtender(ctx, v)

	if o.Mode == "burst" {
		if err := syscallKill(v.PID, sigStop); err != nil {
			return res, fmt.Errorf("pausing scheduler pid %d: %w", v.PID, err)
		}
		// Whatever happens, the scheduler must not stay stopped.
		defer func() { _ = syscallKill(v.PID, sigCont) }()
	}
	// Idle window: the CPU the measured processes use with no pods coming
	// (lease renewals, metrics scrapes and polls, informer resyncs) is
	// subtracted, pro rata, from what they use during the round.
	idle := map[string]float64{} // CPU seconds per second
	if o.IdleWindow > 0 {
		i0, t0 := cpuSnapshot(o, v), time.Now()
		select {
		case <-time.After(o.IdleWindow):
		case <-ctx.Done():
			return res, ctx.Err()
		}
		i1, el := cpuSnapshot(o, v), time.Since(t0).Seconds()
		for name, a := range i0 {
			if b, ok := i1[name]; ok {
				idle[name] = (b - a).Seconds() / el
			}
		}
	}
	cpu0 := cpuSnapshot(o, v)
	start := time.Now()
	err = createPods(ctx, c, o, tmpl, label)
	created := time.Now()
	res.CreateSeconds = created.Sub(start).Seconds()
	if err != nil {
		return res, err
	}
	if o.Mode == "burst" {
		if err := syscallKill(v.PID, sigCont); err != nil {
			return res, fmt.Errorf("resuming scheduler pid %d: %w", v.PID, err)
		}
		start = time.Now()
	}
	res.Bound = watch.WaitBound(ctx, o.Pods, o.RoundTimeout)
	res.LoadAvg = benchkit.LoadAvg()
	if cpu1, dur := cpuSnapshot(o, v), time.Since(start).Seconds(); res.Bound > 0 {
		res.CPUMsPerPod, res.NetCPUMsPerPod = map[string]float64{}, map[string]float64{}
		for name, t0 := range cpu0 {
			if t1, ok := cpu1[name]; ok {
				used := (t1 - t0).Seconds()
				res.CPUMsPerPod[name] = used * 1000 / float64(res.Bound)
				res.NetCPUMsPerPod[name] = max(used-idle[name]*dur, 0) * 1000 / float64(res.Bound)
			}
		}
	}
	boundAt, nodes := watch.Result()
	var first, last time.Time
	for _, t := range boundAt {
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	if res.Bound > 0 {
		res.TotalSeconds = last.Sub(start).Seconds()
		res.BindSpanSeconds = last.Sub(first).Seconds()
		res.PodsPerSecond = float64(res.Bound) / res.TotalSeconds
	}
	perNode := map[string]int{}
	for _, n := range nodes {
		perNode[n]++
	}
	res.NodesUsed = len(perNode)
	for _, k := range perNode {
		res.MaxPerNode = max(res.MaxPerNode, k)
		if k > int(policy.PerCore.MaxPerNode(o.NodeCPU*1000, 1000)) {
			res.OverCap++
		}
	}
	if v.Metrics != "" && before != nil {
		if a := scrape(ctx, v); a != nil {
			d := a.Sub(*before)
			res.AlgoMeanMs = finite(d.Mean() * 1000)
			res.AlgoP50Ms = finite(d.Quantile(0.5) * 1000)
			res.AlgoP99Ms = finite(d.Quantile(0.99) * 1000)
		}
	}
	if extBefore != nil {
		if a := scrapeExtender(ctx, v); a != nil {
			f := a["filter"].Sub(extBefore["filter"])
			p := a["prioritize"].Sub(extBefore["prioritize"])
			res.ExtFilterMeanMs, res.ExtFilterP99Ms = finite(f.Mean()*1000), finite(f.Quantile(0.99)*1000)
			res.ExtPrioritizeMeanMs, res.ExtPrioritizeP99Ms = finite(p.Mean()*1000), finite(p.Quantile(0.99)*1000)
		}
	}
	if err := benchkit.DeletePods(ctx, c, o.Namespace, sel, 5*time.Minute); err != nil {
		return res, err
	}
	return res, nil
}
