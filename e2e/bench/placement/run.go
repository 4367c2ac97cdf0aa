package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/e2e/bench/internal/benchkit"
	"github.com/hdscale/hdscale/e2e/bench/internal/pssim"
)

const benchName = "placement"

func run(ctx context.Context, o options, out io.Writer) error {
	c, err := benchkit.NewClients(o.Kubeconfig)
	if err != nil {
		return err
	}
	if err := benchkit.DeleteOtherBenchNodes(ctx, c, benchName); err != nil {
		return err
	}
	// Nodes of earlier, interrupted runs.
	if err := benchkit.DeleteNodes(ctx, c, benchkit.LabelBench+"="+benchName, 2*time.Minute); err != nil {
		return err
	}
	if err := checkPool(ctx, c, o.Pool); err != nil {
		return err
	}
	for _, v := range o.Variants {
		if err := benchkit.EnsureNamespace(ctx, c, namespace(v)); err != nil {
			return err
		}
		if err := cleanup(ctx, c, v, benchkit.LabelBench); err != nil {
			return err
		}
	}
	var rounds []roundResult
	for r := 0; r < o.Rounds; r++ {
		res, err := runRound(ctx, c, o, r)
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
		rounds = append(rounds, res)
	}
	rep := summarize(o, rounds)
	if o.Out != "" {
		if err := benchkit.WriteJSON(o.Out, rep); err != nil {
			return err
		}
	}
	if o.PlotDir != "" {
		if err := rep.writePlotData(o.PlotDir); err != nil {
			return err
		}
	}
	rep.markdown(out)
	return nil
}

func namespace(v variant) string { return "placement-" + v.Name }

// checkPool refuses to run when the pool has nodes no benchmark made: they
// would take replicas.
func checkPool(ctx context.Context, c *benchkit.Clients, pool string) error {
	l, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "hdscale.io/pool=" + pool})
	if err != nil {
		return fmt.Errorf("listing pool nodes: %w", err)
	}
	if len(l.Items) > 0 {
		return fmt.Errorf("node %s is in pool %s but not a placement benchmark node: delete it or pick another -pool", l.Items[0].Name, pool)
	}
	return nil
}

// roundResult is one round: the pool and each variant's placement.
type roundResult struct {
	Round    int             `json:"round"`
	Seed     int64           `json:"seed"`
	Nodes    []string        `json:"nodes"`
	Loads    []float64       `json:"loads"`
	Observed []float64       `json:"observedCPU"`
	Variants []variantResult `json:"variants"`
	// Best is the smallest makespan any placement of the replicas achieves
	// in the model (exhaustive search), BestPerNode one such placement.
	Best        float64 `json:"bestMakespanSeconds"`
	BestPerNode []int   `json:"bestReplicasPerNode"`
}

// variantResult is one variant's placement in one round and what the model
// makes of it.
type variantResult struct {
	Name      string  `json:"name"`
	PerNode   []int   `json:"replicasPerNode"`
	Bound     int     `json:"bound"`
	Imbalance float64 `json:"imbalance"`
	Makespan  float64 `json:"makespanSeconds"`
	BindSecs  float64 `json:"bindSeconds"`
}

func runRound(ctx context.Context, c *benchkit.Clients, o options, r int) (roundResult, error) {
	seed := o.Seed + int64(r)
	bench := fmt.Sprintf("%s-r%d", benchName, r) // pods' LabelBench
	round := fmt.Sprintf("r%d", r)
	nodeSel := benchkit.LabelBench + "=" + benchName + "," + benchkit.LabelRound + "=" + round
	res := roundResult{Round: r, Seed: seed}
	loads := make([]float64, len(o.Loads))
	for i, p := range rand.New(rand.NewSource(seed)).Perm(len(o.Loads)) {
		loads[i] = o.Loads[p]
	}
	specs := make([]benchkit.NodeSpec, len(loads))
	want := map[string]float64{}
	for i, l := range loads {
		specs[i] = benchkit.NodeSpec{
			Name: fmt.Sprintf("pl-r%d-n%d", r, i), Pool: o.Pool, CPUMilli: o.NodeCPU * 1000,
			BackgroundCPU: l, Bench: benchName, Round: round,
		}
		want[specs[i].Name] = l
		res.Nodes = append(res.Nodes, specs[i].Name)
	}
	res.Loads = loads
	start := time.Now()
	if err := benchkit.CreateNodes(ctx, c, specs, len(specs)); err != nil {
		return res, err
	}
	defer func() {
		if err := benchkit.DeleteNodes(context.WithoutCancel(ctx), c, nodeSel, 2*time.Minute); err != nil {
			log.Printf("round %d: %v", r, err)
		}
	}()
	if err := benchkit.WaitNodesReady(ctx, c, nodeSel, len(specs), 2*time.Minute); err != nil {
		return res, err
	}
	if err := benchkit.WaitNodeMetrics(ctx, c, want, 0.1, 3*time.Minute); err != nil {
		return res, err
	}
	log.Printf("round %d: %d nodes with loads %v reported by NodeMetrics after %.0fs; settling %s",
		r, len(specs), loads, time.Since(start).Seconds(), o.Settle)
	select {
	case <-time.After(o.Settle):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.Observed = observed(ctx, c, res.Nodes)

	order := append([]variant(nil), o.Variants...)
	if r%2 == 1 {
		for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
			order[i], order[j] = order[j], order[i]
		}
	}
	byName := map[string]variantResult{}
	for _, v := range order {
		vr, err := place(ctx, c, o, v, res.Nodes, bench)
		if err != nil {
			return res, fmt.Errorf("%s: %w", v.Name, err)
		}
		evaluate(o, loads, &vr)
		log.Printf("round %d %-8s replicas per node %v (loads %v): imbalance %.2f, makespan %.1fs",
			r, v.Name, vr.PerNode, loads, vr.Imbalance, vr.Makespan)
		byName[v.Name] = vr
	}
	for _, v := range o.Variants {
		res.Variants = append(res.Variants, byName[v.Name])
	}
	best(o, loads, &res)
	return res, nil
}

// observed is the CPU NodeMetrics reports for the nodes (what the extender sees).
func observed(ctx context.Context, c *benchkit.Clients, nodes []string) []float64 {
	out := make([]float64, len(nodes))
	for i, n := range nodes {
		m, err := c.Metrics.MetricsV1beta1().NodeMetricses().Get(ctx, n, metav1.GetOptions{})
		if err == nil {
			out[i] = float64(m.Usage.Cpu().MilliValue()) / 1000
		}
	}
	return out
}

// place creates the variant's Deployment, waits until its replicas are
// bound, records the replicas per node, and deletes it again.
func place(ctx context.Context, c *benchkit.Clients, o options, v variant, nodes []string, bench string) (variantResult, error) {
	vr := variantResult{Name: v.Name}
	ns := namespace(v)
	label := bench + "-" + v.Name
	rp := benchkit.RuntimePod{Namespace: ns, Pool: o.Pool, Pattern: o.Pattern, NodeCPUMilli: o.NodeCPU * 1000, SchedulerName: v.Scheduler, Bench: label}
	sel := benchkit.LabelBench + "=" + label
	w, err := benchkit.WatchBindings(ctx, c, ns, sel)
	if err != nil {
		return vr, err
	}
	defer w.Stop()
	tmpl := rp.Template()
	replicas := int32(o.Replicas)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "runtime", Namespace: ns, Labels: map[string]string{benchkit.LabelBench: label}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels},
			Template: tmpl,
		},
	}
	start := time.Now()
	if _, err := c.Kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return vr, fmt.Errorf("creating deployment: %w", err)
	}
	vr.Bound = w.WaitBound(ctx, o.Replicas, o.RoundTimeout)
	vr.BindSecs = time.Since(start).Seconds()
	if vr.Bound < o.Replicas {
		log.Printf("%s: only %d of %d replicas bound after %s", v.Name, vr.Bound, o.Replicas, o.RoundTimeout)
	}
	_, where := w.Result()
	idx := map[string]int{}
	for i, n := range nodes {
		idx[n] = i
	}
	vr.PerNode = make([]int, len(nodes))
	for pod, n := range where {
		i, ok := idx[n]
		if !ok {
			return vr, fmt.Errorf("pod %s bound to %s, outside the round's pool", pod, n)
		}
		vr.PerNode[i]++
	}
	return vr, cleanup(ctx, c, v, sel)
}

// cleanup deletes the variant's Deployment and its pods matching sel.
func cleanup(ctx context.Context, c *benchkit.Clients, v variant, sel string) error {
	ns := namespace(v)
	err := c.Kube.AppsV1().Deployments(ns).Delete(ctx, "runtime", metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting deployment %s/runtime: %w", ns, err)
	}
	// Without waiting for the ReplicaSet to go, it could recreate pods.
	if err := waitGone(ctx, c, ns, sel); err != nil {
		return err
	}
	return benchkit.DeletePods(ctx, c, ns, sel, 2*time.Minute)
}

func waitGone(ctx context.Context, c *benchkit.Clients, ns, sel string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		l, err := c.Kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err == nil && len(l.Items) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica sets %s/%s still there", ns, sel)
		}
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// evaluate fills in the model's figures for a placement.
func evaluate(o options, loads []float64, vr *variantResult) {
	nodes := make([]pssim.Node, len(loads))
	for i, l := range loads {
		nodes[i] = pssim.Node{Cores: float64(o.NodeCPU), Background: l}
	}
	workers := benchkit.RuntimePod{Pattern: o.Pattern, Pool: o.Pool, NodeCPUMilli: o.NodeCPU * 1000}.Sizing().Workers
	var reps []pssim.Replica
	for i, k := range vr.PerNode {
		for j := 0; j < k; j++ {
			reps = append(reps, pssim.Replica{Node: i, Workers: workers})
		}
	}
	b := pssim.Batch{Executions: o.Executions, CPUSeconds: o.ExecCPU}
	vr.Imbalance = pssim.Imbalance(pssim.Demand(nodes, reps, b))
	if len(reps) == 0 {
		vr.Makespan = -1
		return
	}
	sim, err := pssim.Simulate(nodes, reps, b)
	if err != nil {
		log.Printf("%s: %v", vr.Name, err)
		vr.Makespan = -1
		return
	}
	vr.Makespan = sim.Makespan
}

// best finds the model's best placement of the round's replicas.
func best(o options, loads []float64, res *roundResult) {
	nodes := make([]pssim.Node, len(loads))
	for i, l := range loads {
		nodes[i] = pssim.Node{Cores: float64(o.NodeCPU), Background: l}
	}
	rp := benchkit.RuntimePod{Pattern: o.Pattern, Pool: o.Pool, NodeCPUMilli: o.NodeCPU * 1000}
	s := rp.Sizing()
	capPerNode := o.Pattern.MaxPerNode(o.NodeCPU*1000, s.CPURequestMilli)
	mk, per, ok := pssim.Best(nodes, o.Replicas, s.Workers, capPerNode, pssim.Batch{Executions: o.Executions, CPUSeconds: o.ExecCPU})
	res.Best, res.BestPerNode = -1, per
	if ok {
		res.Best = finite(mk)
	}
}

// sortedByLoad returns node indexes ordered by background load, then name.
func sortedByLoad(loads []float64) []int {
	idx := make([]int, len(loads))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return loads[idx[a]] < loads[idx[b]] })
	return idx
}
