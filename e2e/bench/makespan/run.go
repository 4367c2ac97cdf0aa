package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"math"
	"time"

	"github.com/hdscale/hdscale/e2e/bench/internal/benchkit"
)

// roundResult is one round: the loaded node and each variant's batch.
type roundResult struct {
	Round    int             `json:"round"`
	Nodes    []string        `json:"nodes"`
	Loaded   string          `json:"loadedNode"`
	Order    []string        `json:"order"`
	Variants []variantResult `json:"variants"`
}

// variantResult is one variant's placement and batch in one round.
type variantResult struct {
	Name      string `json:"name"`
	Scheduler string `json:"schedulerName"`
	PerNode   []int  `json:"replicasPerNode"`
	Workers   int    `json:"workersPerReplica"`
	// LimitCores is each replica's CPU limit; RequestMilli its request.
	LimitCores   float64 `json:"cpuLimitCores"`
	RequestMilli int64   `json:"cpuRequestMilli"`
	// Background is each node's CPU (node container cgroup) with the
	// replicas ready and idle, just before the batch; Metrics what
	// metrics.k8s.io showed before the replicas were created.
	Background []float64 `json:"backgroundCores"`
	Metrics    []float64 `json:"metricsCoresBefore"`
	// NodeCPU is each node's mean CPU during the batch (cgroup).
	NodeCPU       []float64   `json:"nodeCPUCores"`
	Batch         batchResult `json:"batch"`
	ModelMakespan float64     `json:"modelMakespanSeconds"`
}

func run(ctx context.Context, o options, out io.Writer) error {
	c, err := benchkit.NewClients(o.Kubeconfig)
	if err != nil {
		return err
	}
	nodes, err := poolNodes(ctx, c, o.Pool)
	if err != nil {
		return err
	}
	nc, err := newNodeContainers(ctx, nodes)
	if err != nil {
		return err
	}
	for _, v := range variants {
		if err := ensureNamespace(ctx, c, o, v); err != nil {
			return err
		}
		if err := deleteRuntime(ctx, c, namespace(v)); err != nil {
			return err
		}
		if err := ensureService(ctx, c, namespace(v)); err != nil {
			return err
		}
	}
	var rounds []roundResult
	for r := 0; r < o.Rounds; r++ {
		res, err := runRound(ctx, c, nc, o, nodes, r)
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
	rep.markdown(out)
	return nil
}

func runRound(ctx context.Context, c *benchkit.Clients, nc *nodeContainers, o options, nodes []string, r int) (roundResult, error) {
	loaded := r % len(nodes)
	res := roundResult{Round: r, Nodes: nodes, Loaded: nodes[loaded]}
	pid, err := startBurner(ctx, nodes[loaded], o.BurnerPath, o.Background)
	if err != nil {
		return res, err
	}
	defer func() {
		if err := stopBurner(context.WithoutCancel(ctx), nodes[loaded], pid); err != nil {
			log.Print(err)
		}
	}()
	order := append([]variant(nil), variants...)
	if r%2 == 1 {
		order[0], order[1] = order[1], order[0]
	}
	byName := map[string]variantResult{}
	for i, v := range order {
		res.Order = append(res.Order, v.Name)
		m, err := waitBackground(ctx, c, nodes, loaded, o.Background, o.Timeout)
		if err != nil {
			return res, err
		}
		if i == 0 {
			log.Printf("round %d: background %.2f cores on %s (NodeMetrics %v); settling %s", r, o.Background, nodes[loaded], m, o.Settle)
		}
		// The extender caches metrics: give it time to see the current
		// sample, before each variant alike.
		select {
		case <-time.After(o.Settle):
		case <-ctx.Done():
			return res, ctx.Err()
		}
		vr, err := runVariant(ctx, c, nc, o, v, nodes)
		if err != nil {
			return res, fmt.Errorf("%s: %w", v.Name, err)
		}
		vr.Metrics = m
		log.Printf("round %d %-8s replicas per node %v (loaded %s): makespan %.1fs (model %.1fs), p50 %.1fs, p99 %.1fs, node CPU %v, connections per node %v, executions per node %v",
			r, v.Name, vr.PerNode, nodes[loaded], vr.Batch.Makespan, vr.ModelMakespan, vr.Batch.P50, vr.Batch.P99, round2(vr.NodeCPU), vr.Batch.ConnsPerNode, vr.Batch.ExecsPerNode)
		byName[v.Name] = vr
	}
	for _, v := range variants {
		res.Variants = append(res.Variants, byName[v.Name])
	}
	return res, nil
}

func runVariant(ctx context.Context, c *benchkit.Clients, nc *nodeContainers, o options, v variant, nodes []string) (variantResult, error) {
	vr := variantResult{Name: v.Name}
	ns := namespace(v)
	defer func() {
		if err := deleteRuntime(context.WithoutCancel(ctx), c, ns); err != nil {
			log.Print(err)
		}
	}()
	p, err := deployRuntime(ctx, c, o, v, nodes)
	if err != nil {
		return vr, err
	}
	vr.Scheduler, vr.PerNode, vr.Workers, vr.LimitCores, vr.RequestMilli = p.Scheduler, p.PerNode, p.Workers, p.LimitCores, p.RequestMili
	if vr.Background, err = nc.measure(ctx, nodes, 5*time.Second); err != nil {
		return vr, err
	}
	var before, after cpuSample
	var sampleErr error
	sample := func(dst *cpuSample) func() {
		return func() {
			s, err := nc.sample()
			if err != nil && sampleErr == nil {
				sampleErr = err
			}
			*dst = s
		}
	}
	outText, err := runClient(ctx, c, o, ns, sample(&before), sample(&after))
	if err != nil {
		return vr, err
	}
	if sampleErr != nil {
		return vr, sampleErr
	}
	vr.NodeCPU = coresBetween(before, after, nodes)
	if vr.Batch, err = parseBatch(outText, p.PodNode, nodes); err != nil {
		return vr, err
	}
	if vr.Batch.Failed > 0 {
		return vr, fmt.Errorf("%d of %d executions failed", vr.Batch.Failed, o.Executions)
	}
	vr.ModelMakespan = modelMakespan(o.Quota, vr.Background, vr.PerNode, vr.Workers, math.Min(vr.LimitCores, 1), o.Executions, o.ExecCPU)
	return vr, nil
}

func round2(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Round(x*100) / 100
	}
	return out
}
