package plugin

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
)

// Status is what `kubectl hdscale status` shows.
type Status struct {
	Pools []PoolStatus `json:"pools"`
	Nodes []NodeStatus `json:"nodes"`
	// Pending are the runtime pods not scheduled yet.
	Pending []PendingPod `json:"pending"`
	// MetricsUnavailable says why live CPU is missing ("" when shown).
	MetricsUnavailable string `json:"metricsUnavailable,omitempty"`
}

// PoolStatus is one pool's facts as the webhook and extender see them.
type PoolStatus struct {
	Name    string `json:"name"`
	Nodes   int    `json:"nodes"`
	Usable  int    `json:"usable"`
	Members int    `json:"members"`
	// ReferenceShape is what runtime pods are sized for ("" when no node is usable).
	ReferenceShape string `json:"referenceShape,omitempty"`
	// DaemonSetCPU is what DaemonSets request on a member.
	DaemonSetCPU string     `json:"daemonSetCPU"`
	Outliers     []NodeNote `json:"outliers,omitempty"`
	Unusable     []NodeNote `json:"unusable,omitempty"`
}

// NodeNote is a node with its shape (an outlier) or why it is unusable.
type NodeNote struct {
	Node   string `json:"node"`
	Detail string `json:"detail"`
}

// Node roles in a pool.
const (
	RoleMember   = "member"
	RoleOutlier  = "outlier"
	RoleUnusable = "unusable"
)

// NodeStatus is one pool node (or a node running runtime pods).
type NodeStatus struct {
	Name string `json:"name"`
	Pool string `json:"pool,omitempty"`
	// Role is member, outlier or unusable ("" outside any pool); Unusable says why.
	Role           string `json:"role,omitempty"`
	Unusable       string `json:"unusable,omitempty"`
	AllocatableCPU string `json:"allocatableCPU"`
	// CPUUsage and CPUPercent are the live sample from metrics.k8s.io,
	// taken SampleAge ago (empty when there is none).
	CPUUsage   string     `json:"cpuUsage,omitempty"`
	CPUPercent *int64     `json:"cpuPercent,omitempty"`
	SampleTime *time.Time `json:"sampleTime,omitempty"`
	SampleAge  string     `json:"sampleAge,omitempty"`
	// Replicas counts the runtime pods on the node per namespace.
	Replicas map[string]int `json:"runtimeReplicas,omitempty"`
}

// PendingPod is a runtime pod the scheduler has not placed.
type PendingPod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Pool      string `json:"pool"`
	Pattern   string `json:"pattern"`
	Age       string `json:"age"`
	// Reason is the PodScheduled condition's message (the scheduler's and
	// extender's reasons).
	Reason string `json:"reason"`
}

func (r *runner) status(ctx context.Context) (*Status, error) {
	cl, err := r.cluster(ctx)
	if err != nil {
		return nil, err
	}
	pods, err := r.runtimePods(ctx, metav1.NamespaceAll)
	if err != nil {
		return nil, err
	}
	s := &Status{Pools: poolStatuses(cl.pools), Pending: []PendingPod{}}
	replicas := map[string]map[string]int{}
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
		case p.Spec.NodeName != "":
			if replicas[p.Spec.NodeName] == nil {
				replicas[p.Spec.NodeName] = map[string]int{}
			}
			replicas[p.Spec.NodeName][p.Namespace]++
		case p.DeletionTimestamp == nil:
			s.Pending = append(s.Pending, r.pending(p))
		}
	}
	usage, err := r.nodeUsage(ctx)
	if err != nil {
		s.MetricsUnavailable = err.Error()
	}
	for _, n := range cl.nodes {
		f := pool.NodeFrom(n)
		if f.Pool == "" && replicas[n.Name] == nil {
			continue
		}
		ns := NodeStatus{Name: n.Name, Pool: f.Pool, AllocatableCPU: policy.MilliString(f.Shape.CPUMilli), Replicas: replicas[n.Name]}
		if p := cl.pool(f.Pool); p != nil {
			switch {
			case !f.Usable():
				ns.Role, ns.Unusable = RoleUnusable, f.Unusable
			case p.Member(f):
				ns.Role = RoleMember
			default:
				ns.Role = RoleOutlier
			}
		}
		if u, ok := usage[n.Name]; ok {
			ns.CPUUsage = policy.MilliString(u.milli)
			if f.Shape.CPUMilli > 0 {
				pct := (u.milli*100 + f.Shape.CPUMilli/2) / f.Shape.CPUMilli
				ns.CPUPercent = &pct
			}
			t := u.time
			ns.SampleTime = &t
			ns.SampleAge = duration.HumanDuration(r.now().Sub(t))
		}
		s.Nodes = append(s.Nodes, ns)
	}
	return s, nil
}

func poolStatuses(pools map[string]*pool.Pool) []PoolStatus {
	out := []PoolStatus{}
	for _, name := range slices.Sorted(maps.Keys(pools)) {
		p := pools[name]
		ps := PoolStatus{Name: name, Nodes: p.Nodes, Usable: p.Usable, Members: p.Members,
			DaemonSetCPU: policy.MilliString(p.ReservedCPUMilli)}
		if p.HasRef {
			ps.ReferenceShape = p.Ref.String()
		}
		for _, n := range p.Outliers {
			ps.Outliers = append(ps.Outliers, NodeNote{Node: n.Name, Detail: n.Shape.String()})
		}
		for _, n := range p.Unusable {
			ps.Unusable = append(ps.Unusable, NodeNote{Node: n.Name, Detail: n.Unusable})
		}
		out = append(out, ps)
	}
	return out
}

func (r *runner) pending(p *corev1.Pod) PendingPod {
	pp := PendingPod{Namespace: p.Namespace, Name: p.Name, Reason: "not scheduled yet",
		Age: duration.HumanDuration(r.now().Sub(p.CreationTimestamp.Time))}
	if a, _, err := policy.ParseAnnotation(p.Annotations[policy.AnnotationPolicy]); err == nil {
		pp.Pool, pp.Pattern = a.Pool, string(a.Pattern)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			pp.Reason = c.Message
			if pp.Reason == "" {
				pp.Reason = c.Reason
			}
		}
	}
	return pp
}

type sample struct {
	milli int64
	time  time.Time
}

// nodeUsage is the live CPU of each node from metrics.k8s.io.
func (r *runner) nodeUsage(ctx context.Context) (map[string]sample, error) {
	if r.c.Metrics == nil {
		return nil, fmt.Errorf("no metrics.k8s.io client")
	}
	list, err := r.c.Metrics.MetricsV1beta1().NodeMetricses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("metrics.k8s.io NodeMetrics: %w", err)
	}
	out := make(map[string]sample, len(list.Items))
	for _, m := range list.Items {
		q, ok := m.Usage[corev1.ResourceCPU]
		if !ok || m.Timestamp.IsZero() {
			continue
		}
		out[m.Name] = sample{milli: q.MilliValue(), time: m.Timestamp.Time}
	}
	return out, nil
}

func (s *Status) table(w io.Writer) {
	if len(s.Pools) == 0 {
		fmt.Fprintf(w, "No node is labelled %s=<pool>.\n", policy.NodePoolKey)
	} else {
		tw := newTable(w, "POOL", "NODES", "USABLE", "MEMBERS", "REFERENCE SHAPE", "DAEMONSET CPU")
		var notes [][]string
		for _, p := range s.Pools {
			row(tw, p.Name, itoa(p.Nodes), itoa(p.Usable), itoa(p.Members), orText(p.ReferenceShape, "(no usable node)"), p.DaemonSetCPU)
			for _, n := range p.Outliers {
				notes = append(notes, []string{p.Name, n.Node, RoleOutlier, n.Detail + ": not of the reference shape, gets no replicas"})
			}
			for _, n := range p.Unusable {
				notes = append(notes, []string{p.Name, n.Node, RoleUnusable, n.Detail})
			}
		}
		tw.Flush()
		if len(notes) > 0 {
			fmt.Fprintln(w)
			tw = newTable(w, "POOL", "NODE", "STATE", "WHY")
			for _, n := range notes {
				row(tw, n...)
			}
			tw.Flush()
		}
	}
	if len(s.Nodes) > 0 {
		fmt.Fprintln(w)
		tw := newTable(w, "NODE", "POOL", "ROLE", "ALLOCATABLE", "CPU USED", "CPU%", "SAMPLE AGE", "RUNTIME REPLICAS")
		for _, n := range s.Nodes {
			pct := ""
			if n.CPUPercent != nil {
				pct = fmt.Sprintf("%d%%", *n.CPUPercent)
			}
			role := n.Role
			if n.Unusable != "" {
				role += " (" + n.Unusable + ")"
			}
			row(tw, n.Name, n.Pool, role, n.AllocatableCPU, n.CPUUsage, pct, n.SampleAge, replicasText(n.Replicas))
		}
		tw.Flush()
	}
	if s.MetricsUnavailable != "" {
		fmt.Fprintf(w, "Live CPU unavailable (%s): is metrics-server installed?\n", s.MetricsUnavailable)
	}
	fmt.Fprintln(w)
	if len(s.Pending) == 0 {
		fmt.Fprintln(w, "No Pending runtime pods.")
		return
	}
	tw := newTable(w, "PENDING POD", "POOL", "PATTERN", "AGE", "REASON")
	for _, p := range s.Pending {
		row(tw, p.Namespace+"/"+p.Name, p.Pool, p.Pattern, p.Age, p.Reason)
	}
	tw.Flush()
}

// replicasText is "ns-a=1,ns-b=2" (sorted).
func replicasText(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, ns := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", ns, m[ns]))
	}
	return strings.Join(parts, ",")
}

func itoa(n int) string { return fmt.Sprint(n) }

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
