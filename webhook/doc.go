// Package webhook is hdscale's mutating admission webhook for hetida designer
// runtime pods.
//
// The decision code is pure and separate from I/O:
//
//	config.go, imageref.go, match.go   which pods and containers are runtimes
//	facts.go                          the small interfaces the decision reads (namespaces, pool shapes)
//	plan.go, fields.go, conflicts.go  policy + pod + pool shape -> Decision (mutated pod, warnings, deny)
//	podwire.go                        the pod of a request, decoded slim (the fields read)
//	patch.go, review.go               JSON patch and AdmissionReview encoding
//	mutate.go, validate_namespace.go  one admission request -> one response
//	handler.go                        HTTP: content type, body cap, decode, recover, metrics
//	pools.go, informers.go            pool shapes from node and DaemonSet informers
//	options.go, server.go             wiring (Run)
//
// See docs/webhook.md for the labels, patterns and conflict semantics.
package webhook
