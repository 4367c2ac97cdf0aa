package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/hdscale/hdscale/internal/quantityguard"
)

// Namespace is what a namespace's hdscale labels ask for, defaults applied.
type Namespace struct {
	Pattern  Pattern
	Pool     string
	Conflict ConflictMode
	Mode     Mode
	// CPUMilli is the hdscale.io/cpu override in millicores; 0 means size
	// from the pool's nodes.
	CPUMilli       int64
	WorkersPerCore int
	// Scheduler is SchedulerHdscale or SchedulerDefault.
	Scheduler string
	// LabelsHash identifies the hdscale labels the policy came from.
	LabelsHash string
}

// maxCPUMilli bounds hdscale.io/cpu: no node has more than 1024 cores.
const maxCPUMilli = 1024 * 1000

// Parse reads a namespace's labels. optedIn is false when the namespace has no
// hdscale.io/pattern label. Every hdscale.io/ label present is validated, opted
// in or not, so a typo is reported when the admin sets it; err is a
// *ValidationError naming each bad label with its allowed values.
func Parse(labels map[string]string) (ns Namespace, optedIn bool, err error) {
	var v ValidationError
	ns = Namespace{
		Pool:           DefaultPool,
		Conflict:       ConflictFill,
		Mode:           ModeEnforce,
		WorkersPerCore: DefaultWorkersPerCore,
		Scheduler:      SchedulerHdscale,
	}
	for _, key := range sortedHdscaleKeys(labels) {
		val := labels[key]
		switch key {
		case LabelPattern:
			optedIn = true
			ns.Pattern = Pattern(val)
			if !ns.Pattern.Valid() {
				v.add(key, val, "must be one of "+join(Patterns))
			}
		case LabelPool:
			ns.Pool = val
			if val == "" {
				v.add(key, val, "must name the node pool (a label value, e.g. "+DefaultPool+")")
			} else if errs := validation.IsValidLabelValue(val); len(errs) > 0 {
				v.add(key, val, "must be a valid label value: "+strings.Join(errs, "; "))
			}
		case LabelConflict:
			ns.Conflict = ConflictMode(val)
			if !oneOf(ns.Conflict, ConflictModes) {
				v.add(key, val, "must be one of "+join(ConflictModes))
			}
		case LabelMode:
			ns.Mode = Mode(val)
			if !oneOf(ns.Mode, Modes) {
				v.add(key, val, "must be one of "+join(Modes))
			}
		case LabelCPU:
			q, qerr := quantityguard.ParseQuantity(val)
			switch {
			case qerr != nil:
				v.add(key, val, "must be a CPU quantity such as 2 or 1500m")
			case q.MilliValue() <= 0 || q.MilliValue() > maxCPUMilli:
				v.add(key, val, "must be a CPU quantity between 1m and 1024")
			default:
				ns.CPUMilli = q.MilliValue()
			}
		case LabelWorkersPerCore:
			n, nerr := strconv.Atoi(val)
			if nerr != nil || n < 1 || n > MaxWorkersPerCore {
				v.add(key, val, fmt.Sprintf("must be an integer from 1 to %d", MaxWorkersPerCore))
			} else {
				ns.WorkersPerCore = n
			}
		case LabelScheduler:
			ns.Scheduler = val
			if val != SchedulerHdscale && val != SchedulerDefault {
				v.add(key, val, "must be one of "+SchedulerHdscale+", "+SchedulerDefault)
			}
		default:
			v.add(key, val, "is not an hdscale label; known labels: "+strings.Join(KnownLabels, ", "))
		}
	}
	if optedIn {
		ns.LabelsHash = LabelsHash(labels)
	}
	if len(v.Problems) > 0 {
		return ns, optedIn, &v
	}
	return ns, optedIn, nil
}

// KnownLabels lists every namespace label hdscale reads.
var KnownLabels = []string{LabelPattern, LabelPool, LabelConflict, LabelMode, LabelCPU, LabelWorkersPerCore, LabelScheduler}

// LabelsHash is a short, stable hash of the hdscale.io/ labels in labels. It is
// recorded on mutated pods so reinvocation is idempotent and drift between a
// pod and its namespace can be detected.
func LabelsHash(labels map[string]string) string {
	h := sha256.New()
	for _, k := range sortedHdscaleKeys(labels) {
		// Length-prefixed, so no key or value can imitate a boundary.
		fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(labels[k]), labels[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func sortedHdscaleKeys(labels map[string]string) []string {
	keys := make([]string, 0, 4)
	for k := range labels {
		if strings.HasPrefix(k, Prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func oneOf[T comparable](v T, allowed []T) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func join[T ~string](vals []T) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
