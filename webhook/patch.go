package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
)

// createPatch returns the JSON patch that applies the webhook's changes
// (original -> mutated: p's pod -> the Decision.Pod that Plan made from in,
// whose in.Pod is p.pod) to raw (p.raw), the pod exactly as the API server
// sent it; nil when there are none. Paths come from jsonpatch.CreatePatch's
// diffs, never by hand:
//
//	patch = CreatePatch(raw, json(mutated)) − CreatePatch(raw, json(original))
//
// The second diff holds the round-trip artifacts of decoding and re-encoding
// raw with typed structs: fields this k8s.io/api version does not know
// (removed), empty structs the types always emit (resources: {}, status: {}),
// non-canonical quantities. Dropping the operations that both diffs share
// keeps exactly the webhook's changes, leaves everything else in raw as it
// was, and still applies to raw: CreatePatch emits a missing subtree as one
// "add" and diffs existing ones in place, so no kept operation depends on a
// dropped one.
//
// The API server serializes objects with these same types, so for a request
// from a same-version API server raw equals json(original) and the second
// diff is CreatePatch's byte-comparison fast path.
//
// Most decisions take the fast path of patch_view.go (the same diff on a
// view holding only the fields a decision changes), which works on the slim
// pod (podwire.go). createPatchFull is the general case: it needs whole pods,
// so createPatch then decodes the whole pod from raw and runs Plan again on
// it with the same input (Match reads only fields the slim pod holds, so
// in.Runtime stays valid). A pod that decodes slim but not whole (an unread
// field of the wrong type) fails there with a *podDecodeError.
func createPatch(p *requestPod, in PlanInput, mutated *corev1.Pod) ([]byte, error) {
	ops, ok, err := viewPatch(p.pod, mutated, p.hasMetadata)
	if err != nil {
		return nil, err
	}
	if ok {
		return encodePatch(ops)
	}
	original := p.pod
	if !p.full {
		if original, err = p.fullPod(); err != nil {
			return nil, &podDecodeError{err: err}
		}
		in.Pod = original
		mutated = Plan(in).Pod
	}
	return createPatchFull(p.raw, original, mutated)
}

// podDecodeError is a pod that decodes slim but not whole: a bad object, as
// the whole decode used to report before any decision.
type podDecodeError struct{ err error }

func (e *podDecodeError) Error() string { return "decoding the pod: " + e.err.Error() }
func (e *podDecodeError) Unwrap() error { return e.err }

// createPatchFull diffs the whole pod (see createPatch).
func createPatchFull(raw []byte, original, mutated *corev1.Pod) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	mutatedJSON, err := json.Marshal(mutated)
	if err != nil {
		return nil, fmt.Errorf("encoding the mutated pod: %w", err)
	}
	ops, err := jsonpatch.CreatePatch(raw, mutatedJSON)
	if err != nil {
		return nil, fmt.Errorf("diffing the pod: %w", err)
	}
	if len(ops) == 0 {
		return nil, nil
	}
	originalJSON, err := json.Marshal(original)
	if err != nil {
		return nil, fmt.Errorf("encoding the pod: %w", err)
	}
	artifacts, err := jsonpatch.CreatePatch(raw, originalJSON)
	if err != nil {
		return nil, fmt.Errorf("diffing the pod: %w", err)
	}
	if len(artifacts) > 0 {
		byPath := make(map[string]jsonpatch.Operation, len(artifacts))
		for _, a := range artifacts {
			byPath[a.Path] = a
		}
		kept := ops[:0]
		for _, op := range ops {
			if a, ok := byPath[op.Path]; ok && a.Operation == op.Operation && reflect.DeepEqual(a.Value, op.Value) {
				continue
			}
			kept = append(kept, op)
		}
		ops = kept
	}
	return encodePatch(ops)
}

func encodePatch(ops []jsonpatch.Operation) ([]byte, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("encoding the patch: %w", err)
	}
	return b, nil
}
