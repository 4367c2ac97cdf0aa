package policy

import (
	"encoding/json"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hdscale/hdscale/internal/quantityguard"
)

// Annotation is the value of the hdscale.io/policy pod annotation: the
// decision the webhook took for a runtime pod. The extender reads it to know
// the pod's pool, pattern and CPU; the webhook reads it on reinvocation to stay
// idempotent and to detect drift from the namespace's labels.
type Annotation struct {
	Pattern  Pattern      `json:"pattern"`
	Pool     string       `json:"pool"`
	Mode     Mode         `json:"mode"`
	Conflict ConflictMode `json:"conflict"`
	// Containers names the runtime containers the decision sized; on
	// reinvocation only these are touched, whatever other webhooks added
	// or reordered.
	Containers []string `json:"containers,omitempty"`
	// CPURequest and CPULimit are per runtime container, as quantities
	// (empty when SizedFrom is unsized).
	CPURequest string `json:"cpuRequest"`
	CPULimit   string `json:"cpuLimit"`
	Workers    int    `json:"workers"`
	// PodCPU is the whole pod's CPU request once sized (runtime containers
	// plus sidecars, init and overhead) and PerNode how many such pods fit
	// on one reference node of the pool (0: unknown).
	PodCPU  string `json:"podCPU,omitempty"`
	PerNode int    `json:"perNode,omitempty"`
	// NodeCPU is the node allocatable CPU the sizing assumed ("" if none).
	NodeCPU    string       `json:"nodeCPU"`
	SizedFrom  SizingSource `json:"sizedFrom"`
	Scheduler  string       `json:"scheduler"`
	LabelsHash string       `json:"labelsHash"`
}

// NewAnnotation records the decision for namespace policy ns and sizing s
// of the named runtime containers. schedulerName is the scheduler the pod was
// given ("" when it keeps its own).
func NewAnnotation(ns Namespace, s Sizing, containers []string, schedulerName string) Annotation {
	a := Annotation{
		Pattern:    ns.Pattern,
		Pool:       ns.Pool,
		Mode:       ns.Mode,
		Conflict:   ns.Conflict,
		Containers: containers,
		Workers:    s.Workers,
		PerNode:    s.PerNode,
		SizedFrom:  s.Source,
		Scheduler:  schedulerName,
		LabelsHash: ns.LabelsHash,
	}
	if s.Sized() {
		a.CPURequest, a.CPULimit = MilliString(s.CPURequestMilli), MilliString(s.CPULimitMilli)
		a.PodCPU = MilliString(s.PodCPUMilli)
	}
	if s.NodeCPUMilli > 0 {
		a.NodeCPU = MilliString(s.NodeCPUMilli)
	}
	return a
}

// Encode returns the annotation's JSON value.
func (a Annotation) Encode() string {
	b, err := json.Marshal(a)
	if err != nil { // cannot happen: only strings and ints
		panic(fmt.Sprintf("policy: encoding annotation: %v", err))
	}
	return string(b)
}

// Placement is what the extender needs from a runtime pod's annotation.
// CPURequestMilli and CPULimitMilli are per runtime container, 0 when the
// pod is unsized.
type Placement struct {
	Pattern         Pattern
	Pool            string
	CPURequestMilli int64
	CPULimitMilli   int64
}

// EstimateMilli is the CPU a just-placed runtime replica is expected to use
// until a metrics sample includes it: its CPU limit for per-core (each
// replica burns its core when it executes) and its CPU request for the
// whole-node patterns (the replica takes the node; its request is the node
// minus what DaemonSets and sidecars reserve). 0 for an unsized pod.
func (p Placement) EstimateMilli() int64 {
	if p.Pattern.WholeNode() {
		return p.CPURequestMilli
	}
	return p.CPULimitMilli
}

// ParseAnnotation decodes and validates an hdscale.io/policy value.
func ParseAnnotation(value string) (Annotation, Placement, error) {
	var a Annotation
	if err := json.Unmarshal([]byte(value), &a); err != nil {
		return a, Placement{}, fmt.Errorf("annotation %s is not valid JSON: %w", AnnotationPolicy, err)
	}
	if !a.Pattern.Valid() {
		return a, Placement{}, fmt.Errorf("annotation %s: pattern %q must be one of %s", AnnotationPolicy, a.Pattern, join(Patterns))
	}
	if a.Pool == "" {
		return a, Placement{}, errors.New("annotation " + AnnotationPolicy + ": pool is empty")
	}
	if a.SizedFrom == Unsized {
		return a, Placement{Pattern: a.Pattern, Pool: a.Pool}, nil
	}
	req, err := parseMilli(a.CPURequest)
	if err != nil {
		return a, Placement{}, fmt.Errorf("annotation %s: cpuRequest: %w", AnnotationPolicy, err)
	}
	lim, err := parseMilli(a.CPULimit)
	if err != nil {
		return a, Placement{}, fmt.Errorf("annotation %s: cpuLimit: %w", AnnotationPolicy, err)
	}
	return a, Placement{Pattern: a.Pattern, Pool: a.Pool, CPURequestMilli: req, CPULimitMilli: lim}, nil
}

func parseMilli(s string) (int64, error) {
	q, err := quantityguard.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a quantity", s)
	}
	// Bound the quantity before converting it: MilliValue silently wraps
	// around for values beyond int64 millis (e.g. "99999999999999999999"
	// would become an arbitrary positive number), and no node has more than
	// maxCPUMilli CPU.
	if q.Sign() <= 0 {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	if q.Cmp(*resource.NewMilliQuantity(maxCPUMilli, resource.DecimalSI)) > 0 {
		return 0, fmt.Errorf("%q must be at most %s", s, MilliString(maxCPUMilli))
	}
	return q.MilliValue(), nil
}

// MilliString formats millicores as a canonical quantity ("4", "1500m").
func MilliString(m int64) string {
	return resource.NewMilliQuantity(m, resource.DecimalSI).String()
}
