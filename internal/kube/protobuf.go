// Package kube holds client configuration shared by hdscale's commands.
package kube

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
)

// Protobuf returns a copy of cfg that talks protobuf to the API server, as
// kube-scheduler and kube-controller-manager do: built-in objects (pods,
// nodes, namespaces, Secrets, ...) decode several times faster than from
// JSON, which matters to informers that follow every pod and node of a large
// cluster. JSON stays accepted for resources without protobuf (such as
// metrics.k8s.io; give those clients the unmodified cfg).
func Protobuf(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.ContentType = runtime.ContentTypeProtobuf
	c.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	return c
}
