package webhook

import (
	"fmt"

	sigsjson "sigs.k8s.io/json"

	"github.com/hdscale/hdscale/internal/quantityguard"
)

// decodeObject decodes the object of an admission request (a pod or a
// Deployment) the way the API server decodes objects (sigs.k8s.io/json:
// case-sensitive, integers kept as integers) and refuses an object whose
// JSON repeats a field.
//
// Why repeated fields are refused: the webhook computes its JSON patch from
// the decoded object, but the API server applies that patch to the object's
// JSON. For a repeated key the two disagree: Go's decoder merges a repeated
// object into the same struct or map (both "resources" of a container count),
// while a JSON patch sees the last one only. The webhook would then send
// paths the object lacks ("replace .../limits/cpu" where only the last
// "resources" holds no limits), or size a container from values the pod
// does not keep. FuzzMutate found such an input. The API server encodes the
// objects it sends itself, so it never sends repeated fields; a body that
// has them is refused as a bad object (400), naming the first one.
//
// Before decoding, quantityguard.Check refuses quantities that would take
// the Kubernetes quantity parser seconds to minutes (see that package).
func decodeObject(raw []byte, v any) error {
	if err := quantityguard.Check(raw); err != nil {
		return err
	}
	strict, err := sigsjson.UnmarshalStrict(raw, v, sigsjson.DisallowDuplicateFields)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		return fmt.Errorf("%w (a repeated field cannot be patched unambiguously)", strict[0])
	}
	return nil
}
