package policy

// Pattern is one of hetida designer's three documented runtime scaling patterns.
type Pattern string

const (
	// PerNode runs one runtime pod per node with one worker per node CPU.
	PerNode Pattern = "per-node"
	// PerNodeSingle runs one runtime pod per node with one worker; code that
	// releases the GIL still uses all CPUs of the node.
	PerNodeSingle Pattern = "per-node-single"
	// PerCore runs one runtime pod per CPU core with one worker each.
	PerCore Pattern = "per-core"
)

// Patterns lists the valid patterns in documentation order.
var Patterns = []Pattern{PerNode, PerNodeSingle, PerCore}

// Valid reports whether p is a known pattern.
func (p Pattern) Valid() bool {
	switch p {
	case PerNode, PerNodeSingle, PerCore:
		return true
	}
	return false
}

// WholeNode reports whether the pattern gives each pod a whole node.
func (p Pattern) WholeNode() bool { return p == PerNode || p == PerNodeSingle }

// MaxPerNode is the cap of runtime replicas of one namespace and pool on a node
// with allocatableMilli CPU, for pods requesting podCPUMilli: 1 for the
// per-node patterns, floor(allocatable/pod CPU) (at least 0) for per-core.
func (p Pattern) MaxPerNode(allocatableMilli, podCPUMilli int64) int {
	if p.WholeNode() {
		return 1
	}
	if podCPUMilli <= 0 {
		podCPUMilli = 1000
	}
	if allocatableMilli <= 0 {
		return 0
	}
	return int(allocatableMilli / podCPUMilli)
}

// ConflictMode says what happens when a pod's own values contradict the policy.
type ConflictMode string

const (
	// ConflictFill sets only what the pod leaves unset and warns about the rest.
	ConflictFill ConflictMode = "fill"
	// ConflictEnforce overwrites the pod's values and warns.
	ConflictEnforce ConflictMode = "enforce"
	// ConflictReject denies a pod whose values contradict the policy.
	ConflictReject ConflictMode = "reject"
)

// ConflictModes lists the valid conflict modes, default first.
var ConflictModes = []ConflictMode{ConflictFill, ConflictEnforce, ConflictReject}

// Mode says whether the webhook mutates or only reports.
type Mode string

const (
	// ModeEnforce mutates runtime pods.
	ModeEnforce Mode = "enforce"
	// ModeAudit does not mutate; it warns and annotates what would change.
	ModeAudit Mode = "audit"
)

// Modes lists the valid modes, default first.
var Modes = []Mode{ModeEnforce, ModeAudit}
