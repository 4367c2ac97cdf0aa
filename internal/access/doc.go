// Package access guards hdscale's private endpoints (/metrics, /explain,
// /debug/pprof) with the cluster's own authentication and authorization, as
// kube-scheduler, metrics-server and kube-rbac-proxy guard theirs:
//
//   - authentication: a client certificate signed by the cluster's client CA
//     (ConfigMap kube-system/extension-apiserver-authentication, key
//     client-ca-file, followed as it changes) or a bearer token the API server
//     accepts (TokenReview);
//   - authorization: a SubjectAccessReview for the request's non-resource URL
//     and verb (GET /metrics is verb "get" on nonResourceURL "/metrics").
//
// Answers are cached (tokens and allows for minutes, denies for seconds), so
// a Prometheus scrape costs the API server nothing most of the time.
//
// The decision code (Guard.Wrap) takes the two interfaces of
// k8s.io/apiserver, so it is tested with fakes; NewDelegating wires the
// real, delegating implementations of k8s.io/apiserver.
package access
