package extender

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
	"github.com/hdscale/hdscale/webhook"
)

// TestWebhookAndExtenderAgree builds the webhook's facts (pool.Facts, as its
// informers do) and the extender's snapshot from the same fixture cluster,
// admits a runtime pod with a 100m sidecar through webhook.Plan and filters
// it through the extender, and requires that the two halves agree: the pod
// is sized for the reference shape of exactly the nodes the extender places
// on, fits each of them once (whole-node patterns), and the outliers both
// name are the same.
func TestWebhookAndExtenderAgree(t *testing.T) {
	t.Parallel()
	cordon := func(n *v1.Node) { n.Spec.Unschedulable = true }
	notReady := func(n *v1.Node) { n.Status.Conditions[0].Status = v1.ConditionFalse }
	deleting := func(n *v1.Node) { now := metav1.NewTime(t0); n.DeletionTimestamp = &now }
	gpu := func(n *v1.Node) { n.Labels["gpu"] = "yes" }
	n8 := func(name string, mods ...func(*v1.Node)) *v1.Node { return node(name, "runtime", 8000, 32*gi, mods...) }
	n4 := func(name string, mods ...func(*v1.Node)) *v1.Node { return node(name, "runtime", 4000, 16*gi, mods...) }
	ds := func(name, cpu string, onlyGPU bool) *appsv1.DaemonSet {
		d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"}}
		d.Spec.Template.Spec.Tolerations = []v1.Toleration{{Operator: v1.TolerationOpExists}}
		d.Spec.Template.Spec.Containers = []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{
			Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}}}}
		if onlyGPU {
			d.Spec.Template.Spec.NodeSelector = map[string]string{"gpu": "yes"}
		}
		return d
	}
	daemonSets := []*appsv1.DaemonSet{ds("kube-proxy", "100m", false), ds("gpu-plugin", "400m", true)}
	tests := []struct {
		name  string
		nodes []*v1.Node
		// Written out, not computed: the nodes replicas go to and the node
		// CPU they are sized for (0: unsized), and the outliers.
		members  []string
		nodeCPU  int64
		outliers []string
	}{
		{"equal", []*v1.Node{n8("a"), n8("b"), n8("c")}, []string{"a", "b", "c"}, 8000, nil},
		{"3x8 + 2x4", []*v1.Node{n8("a"), n8("b"), n8("c"), n4("d"), n4("e")}, []string{"a", "b", "c"}, 8000, []string{"d", "e"}},
		{"one NotReady", []*v1.Node{n8("a"), n8("b", notReady), n8("c")}, []string{"a", "c"}, 8000, nil},
		{"one cordoned", []*v1.Node{n8("a", cordon), n8("b"), n8("c")}, []string{"b", "c"}, 8000, nil},
		{"one being deleted", []*v1.Node{n8("a"), n8("b"), n8("c", deleting)}, []string{"a", "b"}, 8000, nil},
		{"all cordoned: sized for their shape, placed nowhere", []*v1.Node{n8("a", cordon), n8("b", cordon)}, nil, 8000, nil},
		{"a drain does not flip the reference", []*v1.Node{n8("a", cordon), n8("b", notReady), n8("c"), n4("d"), n4("e")}, []string{"c"}, 8000, []string{"d", "e"}},
		{"none labelled", []*v1.Node{node("a", "", 8000, 32*gi), node("b", "", 8000, 32*gi)}, nil, 0, nil},
		{"DaemonSets on some nodes only", []*v1.Node{n8("a", gpu), n8("b"), n8("c")}, []string{"a", "b", "c"}, 8000, nil},
		{"the smaller nodes are the larger group", []*v1.Node{n8("a"), n4("b"), n4("c")}, []string{"b", "c"}, 4000, []string{"a"}},
	}
	for _, tt := range tests {
		for _, pattern := range policy.Patterns {
			t.Run(tt.name+"/"+string(pattern), func(t *testing.T) {
				t.Parallel()
				// The webhook's half.
				facts := pool.Facts(tt.nodes, daemonSets, pool.DefaultShapeTolerance)
				p := facts["runtime"]
				ns, _, err := policy.Parse(map[string]string{policy.LabelPattern: string(pattern)})
				if err != nil {
					t.Fatal(err)
				}
				pod := sidecarRuntimePod()
				d := webhook.Plan(webhook.PlanInput{Pod: pod, Runtime: []int{0}, Policy: ns, Pool: p, SchedulerName: "hdscale-scheduler"})
				if d.Deny != "" {
					t.Fatalf("denied: %s", d.Deny)
				}
				if d.Sizing.NodeCPUMilli != tt.nodeCPU {
					t.Errorf("webhook sized for node CPU %d, want %d", d.Sizing.NodeCPUMilli, tt.nodeCPU)
				}
				var webhookMembers []string
				for _, n := range tt.nodes {
					if p != nil && p.Member(pool.NodeFrom(n)) {
						webhookMembers = append(webhookMembers, n.Name)
					}
				}
				if !slices.Equal(webhookMembers, tt.members) {
					t.Errorf("webhook members %v, want %v", webhookMembers, tt.members)
				}
				for _, o := range tt.outliers {
					if !slices.ContainsFunc(d.Warnings, func(w string) bool { return strings.Contains(w, "node "+o+" ") }) {
						t.Errorf("webhook warnings %q do not name outlier %s", d.Warnings, o)
					}
				}

				// The extender's half, on the admitted pod.
				admitted := d.Pod.DeepCopy()
				admitted.UID, admitted.ResourceVersion = "uid-admitted", "1"
				snap := Build(Input{Nodes: tt.nodes, Now: t0, ShapeTolerance: pool.DefaultShapeTolerance})
				if sp, ok := snap.Pool("runtime"); ok && (sp.Ref != p.Ref || sp.Members != p.Members || sp.HasRef != p.HasRef) {
					t.Errorf("extender pool %+v, webhook pool %+v", sp, p)
				}
				c := evalCtxFor(t, snap, nil, admitted, t0, Default())
				evs := evsFor(snap, names(tt.nodes)...)
				c.filter(evs)
				c.release()
				var placed []string
				for _, ev := range evs {
					if ev.Verdict == vPass {
						placed = append(placed, ev.Name)
					}
					if ev.Reason == rShape && !slices.Contains(tt.outliers, ev.Name) {
						t.Errorf("extender calls %s an outlier", ev.Name)
					}
					if ev.Reason == rShape {
						for _, o := range tt.outliers {
							if !strings.Contains(c.text(rShape), " "+o+" (") {
								t.Errorf("shape reason %q does not name outlier %s", c.text(rShape), o)
							}
						}
					}
				}
				if !slices.Equal(placed, tt.members) {
					t.Errorf("extender places on %v, want %v (the webhook's members)", placed, tt.members)
				}
				if !d.Sizing.Sized() || !pattern.WholeNode() {
					return
				}
				// Exactly one sized whole-node pod fits on every member beside
				// the DaemonSets that run there.
				podCPU := pool.PodCPURequestMilli(admitted)
				for _, n := range tt.nodes {
					if !slices.Contains(tt.members, n.Name) {
						continue
					}
					var reserved int64
					for _, x := range daemonSets {
						if dd := pool.DaemonSetFrom(x); dd.RunsOn(n) {
							reserved += dd.CPUMilli
						}
					}
					free := n.Status.Allocatable.Cpu().MilliValue() - reserved
					if podCPU > free || 2*podCPU <= free {
						t.Errorf("%s: pod requests %dm, %dm free: want exactly one to fit", n.Name, podCPU, free)
					}
				}
			})
		}
	}
}

// sidecarRuntimePod is a runtime pod with a 100m log-shipping sidecar.
func sidecarRuntimePod() *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "rt"},
		Spec: v1.PodSpec{Containers: []v1.Container{
			{Name: "runtime", Image: "hetida/designer-runtime:0.9.7"},
			{Name: "log-shipper", Image: "fluent/fluent-bit:3.1", Resources: v1.ResourceRequirements{
				Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m")}}},
		}},
	}
}
