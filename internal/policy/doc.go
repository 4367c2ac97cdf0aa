// Package policy is hdscale's public label and annotation API: the namespace
// labels an admin sets (pattern, pool, conflict, mode and overrides), their
// validation, the per-pattern arithmetic (CPU sizing, workers, replicas per
// node) and the hdscale.io/policy pod annotation that records the decision.
//
// The webhook and the scheduler extender both import this package and nothing
// else defines these names, so the two can never disagree about what a
// namespace asked for.
package policy
