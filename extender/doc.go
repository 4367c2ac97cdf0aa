// Package extender is hdscale's kube-scheduler extender: an HTTP server
// implementing k8s.io/kube-scheduler/extender/v1 (filter and prioritize verbs,
// nodeCacheCapable) that places hetida designer runtime replicas — pods
// carrying the hdscale.io/policy annotation — on the equal, dedicated nodes of
// their pool, capped per node by their pattern, and each on the node with the
// most real CPU headroom, bursts included.
//
// Layout (one concept per file):
//
//   - options.go: Options, defaults and validation.
//   - facts.go: the compact node and pod facts extracted from API objects.
//   - snapshot.go: the immutable Snapshot that filter and score read.
//   - builder.go: node/pod/metric facts → Snapshot (Build is pure; Builder is
//     its incremental form fed by informers and the poller).
//   - shape.go: a pool's reference shape and the tolerance check.
//   - assess.go: effective CPU utilisation of a node (live or fallback), the
//     one formula filter and score share.
//   - filter.go, score.go: the pure decisions.
//   - reservations.go: predicted placements that protect bursts.
//   - explain.go: the ring buffer of recent decisions behind GET /explain.
//   - metrics.go: Prometheus metrics.
//   - codec.go: the protocol's JSON wire format (fast decode and encode).
//   - handler.go: the protocol HTTP handlers.
//   - store.go: the atomically swapped snapshot and its rebuild loop.
//   - informers.go, poller.go: the Kubernetes and metrics.k8s.io inputs.
//   - extender.go: Extender, tying the decision code to its state.
//   - server.go: Run, the process wiring used by cmd/extender.
//
// See docs/extender.md for the rules, the score formula and the scheduler
// configuration.
package extender
