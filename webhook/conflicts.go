package webhook

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/hdscale/hdscale/internal/policy"
)

// Action is what the webhook did with a field whose pod value contradicts the
// policy; it follows the namespace's hdscale.io/conflict mode.
type Action string

const (
	// ActionKept (conflict=fill): the pod's value stays, the webhook warns.
	ActionKept Action = "kept"
	// ActionOverwritten (conflict=enforce): the policy's value replaces it.
	ActionOverwritten Action = "overwritten"
	// ActionDenied (conflict=reject): the pod is denied.
	ActionDenied Action = "denied"
)

// actionFor maps a conflict mode to its action.
func actionFor(m policy.ConflictMode) Action {
	switch m {
	case policy.ConflictEnforce:
		return ActionOverwritten
	case policy.ConflictReject:
		return ActionDenied
	default:
		return ActionKept
	}
}

// Conflict is one field a pod sets itself to something other than the policy.
type Conflict struct {
	// Field names the field, e.g. spec.nodeSelector[hdscale.io/pool] or
	// spec.containers[runtime].env[WEB_CONCURRENCY].
	Field string
	// Pod is the pod's value (valueFromText when it comes from valueFrom).
	Pod string
	// Policy is the value the policy wants.
	Policy string
	// To is the value the field gets when the conflict is overwritten
	// (Policy, or unsetText when enforcing removes the field).
	To     string
	Action Action
}

// valueFromText stands for an env value the pod takes from valueFrom.
const valueFromText = "(valueFrom: value unknown)"

// unsetText stands for "no value" in would-change and conflict messages.
const unsetText = "(unset)"

// Warning is the admission warning for c. audit says the namespace is in
// audit mode, so nothing was actually done.
func (c Conflict) Warning(audit bool) string {
	prefix, keep, overwrite := "hdscale: ", "kept", "overwrote"
	if audit {
		prefix, keep, overwrite = "hdscale audit: would ", "keep", "overwrite"
	}
	switch c.Action {
	case ActionOverwritten:
		return fmt.Sprintf("%s%s %s: %s -> %s", prefix, overwrite, c.Field, c.Pod, c.To)
	case ActionDenied:
		if audit {
			return fmt.Sprintf("%sdeny, %s: %s vs %s", prefix, c.Field, c.Pod, c.Policy)
		}
		return fmt.Sprintf("%s%s: %s vs policy %s", prefix, c.Field, c.Pod, c.Policy)
	default:
		return fmt.Sprintf("%s%s %s: %s (policy: %s)", prefix, keep, c.Field, c.Pod, c.Policy)
	}
}

// auditValue is the value of c's audit annotation.
func (c Conflict) auditValue() string {
	return fmt.Sprintf("%s: pod %s, policy %s", c.Action, c.Pod, c.Policy)
}

// denyMessage is the message of a pod denied under conflict=reject; it names
// every conflicting field.
func denyMessage(pattern policy.Pattern, cs []Conflict) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hdscale: the pod contradicts its namespace's %s policy (%s=%s): ", pattern, policy.LabelConflict, policy.ConflictReject)
	for i, c := range cs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s is %s, policy wants %s", c.Field, c.Pod, c.Policy)
	}
	fmt.Fprintf(&b, ". Remove these fields from the pod, or set %s=%s or %s", policy.LabelConflict, policy.ConflictFill, policy.ConflictEnforce)
	return b.String()
}

// conflictsRecord is the JSON value of the hdscale.io/conflicts annotation:
// the fields kept as the pod had them (fill) and the fields overwritten
// (enforce), each sorted.
type conflictsRecord struct {
	Kept        []string `json:"kept,omitempty"`
	Overwritten []string `json:"overwritten,omitempty"`
}

// conflictsAnnotation merges cs into the existing annotation value (so a
// reinvocation, which no longer sees the overwritten values, keeps the record).
func conflictsAnnotation(existing string, cs []Conflict) string {
	var rec conflictsRecord
	if existing != "" {
		_ = json.Unmarshal([]byte(existing), &rec) // a foreign or broken value is replaced
	}
	for _, c := range cs {
		switch c.Action {
		case ActionKept:
			rec.Kept = append(rec.Kept, c.Field)
		case ActionOverwritten:
			rec.Overwritten = append(rec.Overwritten, c.Field)
		}
	}
	rec.Kept = sortedUnique(rec.Kept)
	rec.Overwritten = sortedUnique(rec.Overwritten)
	b, _ := json.Marshal(rec) // strings only
	return string(b)
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	sort.Strings(s)
	out := s[:1]
	for _, v := range s[1:] {
		if v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}

// Change is one field the webhook set (or, in audit mode, would set).
type Change struct {
	Field string
	// To is the new value; unsetText when the field is removed.
	To string
}

// wouldChange is the JSON value of the hdscale.io/would-change annotation
// written in audit mode.
type wouldChange struct {
	// Changes maps each field enforce mode would set to its value.
	Changes map[string]string `json:"changes,omitempty"`
	// Deny is the message enforce mode would deny the pod with.
	Deny string `json:"deny,omitempty"`
}

func wouldChangeAnnotation(changes []Change, deny string) string {
	w := wouldChange{Deny: deny}
	if deny == "" && len(changes) > 0 {
		w.Changes = make(map[string]string, len(changes))
		for _, c := range changes {
			w.Changes[c.Field] = c.To
		}
	}
	b, _ := json.Marshal(w) // strings only; map keys are sorted
	return string(b)
}

// auditKey turns a field name into an audit annotation key: the API server
// prefixes it with the webhook name, so it must be a valid qualified name's
// name part (at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends).
// "containers[runtime].env[WEB_CONCURRENCY]" becomes
// prefix+"containers.runtime.env.WEB_CONCURRENCY".
func auditKey(prefix, field string, taken map[string]string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range field {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		case r == '[', r == '/':
			b.WriteByte('.')
		case r == ']':
		default:
			b.WriteByte('-')
		}
	}
	key := b.String()
	const maxLen = 56 // leaves room for a "-N" suffix (63 is the limit)
	if len(key) > maxLen {
		key = key[:maxLen]
	}
	key = strings.TrimRight(key, "-._")
	if _, ok := taken[key]; !ok {
		return key
	}
	for n := 2; ; n++ {
		k := fmt.Sprintf("%s-%d", key, n)
		if _, ok := taken[k]; !ok {
			return k
		}
	}
}
