package policy

import (
	"encoding/json"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
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
	// CPURequest and CPULimit are per runtime container, as quantities.
	CPURequest string `json:"cpuRequest"`
	CPULimit   string `json:"cpuLimit"`
	Workers    int    `json:"workers"`
	// NodeCPU is the node allocatable CPU the sizing assumed.
	NodeCPU    string       `json:"nodeCPU"`
	SizedFrom  SizingSource `json:"sizedFrom"`
	Scheduler  string       `json:"scheduler"`
	LabelsHash string       `json:"labelsHash"`
}

// NewAnnotation records the decision for namespace policy ns and sizing s.
// schedulerName is the scheduler the pod was given ("" when it keeps its own).
func NewAnnotation(ns Namespace, s Sizing, schedulerName string) Annotation {
	return Annotation{
		Pattern:    ns.Pattern,
		Pool:       ns.Pool,
		Mode:       ns.Mode,
		Conflict:   ns.Conflict,
		CPURequest: MilliString(s.CPURequestMilli),
		CPULimit:   MilliString(s.CPULimitMilli),
		Workers:    s.Workers,
		NodeCPU:    MilliString(s.NodeCPUMilli),
		SizedFrom:  s.Source,
		Scheduler:  schedulerName,
		LabelsHash: ns.LabelsHash,
	}
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
type Placement struct {
	Pattern         Pattern
	Pool            string
	CPURequestMilli int64
	CPULimitMilli   int64
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
	q, err := resource.ParseQuantity(s)
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
