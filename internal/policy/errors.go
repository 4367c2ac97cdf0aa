package policy

import (
	"fmt"
	"strings"
)

// Problem is one invalid hdscale label.
type Problem struct {
	Label  string
	Value  string
	Reason string
}

func (p Problem) String() string {
	return fmt.Sprintf("namespace label %s=%q %s", p.Label, p.Value, p.Reason)
}

// ValidationError lists every invalid hdscale label of a namespace.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) add(label, value, reason string) {
	e.Problems = append(e.Problems, Problem{Label: label, Value: value, Reason: reason})
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.String()
	}
	return strings.Join(msgs, "; ")
}
