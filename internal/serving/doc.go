// Package serving holds the HTTP plumbing shared by the webhook and the
// extender: health and readiness endpoints with named checks, the metrics
// endpoint, per-request panic recovery and graceful shutdown.
package serving
