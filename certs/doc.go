// Package certs manages the admission webhook's TLS without cert-manager: a CA and a serving
// certificate in a Secret, the caBundle of the hdscale webhook configurations, rotation before
// expiry without failed admissions, and the certificate the webhook server presents.
//
// # Layout
//
// Pure decision code: Options (options.go, dnsnames.go), certificate issuing (issue.go,
// keypair.go), the Secret format (secret_format.go, state.go), the rotation decision Plan
// (plan.go) and its execution (apply.go), caBundle comparison and patches (cabundle.go), the Secret's owners (owners.go), the TLS
// configuration (tlsconfig.go). Thin API I/O: the Secret (secret_sync.go), the webhook
// configurations (webhook_configs.go), informers and the reconcile loop (manager.go), serving
// (serving.go), readiness (readiness.go), metrics (metrics.go).
//
// # Secret format
//
// The Secret (type kubernetes.io/tls; Opaque is accepted when it already exists) carries the
// label app.kubernetes.io/managed-by=hdscale. A Secret without it is foreign and never written;
// one with an unknown hdscale.io/certs-format is left alone too. Data keys:
//
//	tls.crt, tls.key              serving certificate (ECDSA P-256) and key
//	ca.crt                        the published bundle: exactly what caBundle holds
//	ca-current.crt, ca-current.key  the CA that signed tls.crt
//	ca-next.crt, ca-next.key      phase 1 only: the incoming CA
//	ca-previous.crt               phase 2 only: the outgoing CA (no key kept)
//
// Annotations (timestamps RFC 3339, UTC): hdscale.io/certs-format (v1),
// hdscale.io/ca-rotation-phase (stable | ca-added | ca-switched),
// hdscale.io/ca-rotation-started-at, hdscale.io/ca-bundle-published-at,
// hdscale.io/ca-switched-at, hdscale.io/ca-rotation-finished-at and hdscale.io/last-change
// (the last action and its reason, informational).
//
// Owners (owners.go): every configured webhook configuration that exists is an ownerReference of
// the Secret, so the garbage collector deletes the Secret once they are all deleted (helm
// uninstall, kubectl delete of the release file), whatever happens to the namespace. A
// configuration created again gets a new reference on the next reconcile; references to other
// objects are kept.
//
// # Rotation
//
// Plan(state, now, opts) is a pure function of the decoded Secret, the time and the options, so
// any replica can take the next step; every write is optimistic (resourceVersion), so concurrent
// replicas converge. The serving certificate is reissued from the current CA when
// RotateBefore (or RotateFraction of its lifetime) remains, when it lacks a configured DNS name
// or when it was not issued by the current CA. The CA rotates in three phases so that at every
// instant the certificate any replica serves verifies against the caBundle any API server uses:
//
//  1. start-ca-rotation: a new CA is generated; bundle = old + new; serving still from the old
//     CA. Once a replica has confirmed that bundle in every webhook configuration it records
//     hdscale.io/ca-bundle-published-at.
//  2. switch-ca, PropagationDelay after publication: the serving certificate is issued from the
//     new CA; the old CA stays in the bundle (ca-previous.crt).
//  3. finish-ca-rotation, Overlap after the switch: the old CA leaves the bundle.
//
// A CA that is missing, corrupt or already expired is regenerated at once (no overlap is
// possible then). Deleting the Secret forces a fresh CA.
package certs
