package policy

// Prefix is the prefix of every hdscale label and annotation.
const Prefix = "hdscale.io/"

// Namespace labels: the public API a cluster admin uses.
const (
	// LabelPattern opts a namespace in and selects the scaling pattern.
	LabelPattern = Prefix + "pattern"
	// LabelPool names the dedicated node pool (default DefaultPool).
	LabelPool = Prefix + "pool"
	// LabelConflict selects how pod values that contradict the policy are handled.
	LabelConflict = Prefix + "conflict"
	// LabelMode selects enforce (mutate) or audit (warn and annotate only).
	LabelMode = Prefix + "mode"
	// LabelCPU overrides the per-pod CPU (a resource quantity such as "2" or "1500m").
	LabelCPU = Prefix + "cpu"
	// LabelWorkersPerCore overrides workers per core for the per-node pattern.
	LabelWorkersPerCore = Prefix + "workers-per-core"
	// LabelScheduler selects the scheduler: "hdscale" (default) or "default"
	// to keep the cluster's default scheduler (no extender placement).
	LabelScheduler = Prefix + "scheduler"
)

// NodePoolKey is the key of the node label (hdscale.io/pool=<pool>) and of the
// NoSchedule taint (hdscale.io/pool=<pool>:NoSchedule) that pool nodes carry.
const NodePoolKey = Prefix + "pool"

// Pod annotations written by the webhook.
const (
	// AnnotationPolicy records the decision for a runtime pod (see Annotation).
	AnnotationPolicy = Prefix + "policy"
	// AnnotationAudit records, in audit mode, what enforce mode would change.
	AnnotationAudit = Prefix + "would-change"
	// AnnotationConflicts lists the fields left as the pod had them because of
	// a conflict (fill mode) or overwritten (enforce mode).
	AnnotationConflicts = Prefix + "conflicts"
)

// Defaults for labels that are absent.
const (
	DefaultPool           = "runtime"
	DefaultWorkersPerCore = 1
	// MaxWorkersPerCore bounds hdscale.io/workers-per-core.
	MaxWorkersPerCore = 16
)

// Scheduler choices for LabelScheduler.
const (
	SchedulerHdscale = "hdscale"
	SchedulerDefault = "default"
)
