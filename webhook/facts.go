package webhook

import (
	"fmt"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
)

// Namespaces looks namespaces up in a cache (never the API server). Get
// returns an error satisfying apierrors.IsNotFound for an unknown namespace.
// A client-go NamespaceLister satisfies it.
type Namespaces interface {
	Get(name string) (*corev1.Namespace, error)
}

// Pools returns the facts of a node pool (internal/pool): nil for a pool no
// node is labelled for. The returned Pool must not be modified.
type Pools interface {
	Pool(name string) *pool.Pool
}

// StaticNamespaces is a fixed Namespaces: namespace name -> labels.
type StaticNamespaces map[string]map[string]string

// Get implements Namespaces.
func (s StaticNamespaces) Get(name string) (*corev1.Namespace, error) {
	labels, ok := s[name]
	if !ok {
		return nil, apierrors.NewNotFound(corev1.Resource("namespaces"), name)
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, nil
}

// StaticPools is a fixed Pools: pool name -> facts.
type StaticPools map[string]*pool.Pool

// Pool implements Pools.
func (s StaticPools) Pool(name string) *pool.Pool { return s[name] }

// describePool is a short human description of a pool for messages.
func describePool(name string, p *pool.Pool) string {
	switch {
	case p == nil:
		return fmt.Sprintf("pool %s: no node is labelled %s=%s", name, policy.NodePoolKey, name)
	case p.Members == 0 && len(p.Outliers) == 0:
		return fmt.Sprintf("pool %s: none of its %d nodes is usable (%s)", name, p.Nodes, describeNodes(p.Unusable, 3))
	}
	s := fmt.Sprintf("pool %s: %d nodes of %s", name, p.Members, p.Ref)
	if len(p.Outliers) > 0 {
		s += fmt.Sprintf("; %d of other shapes get no replicas", len(p.Outliers))
	}
	return s
}

// describeNodes lists up to limit nodes as "name (why)" or "name (shape)".
func describeNodes(nodes []pool.Node, limit int) string {
	parts := make([]string, 0, min(len(nodes), limit)+1)
	for i, n := range nodes {
		if i == limit {
			parts = append(parts, fmt.Sprintf("%d more", len(nodes)-limit))
			break
		}
		what := n.Unusable
		if what == "" {
			what = n.Shape.String()
		}
		parts = append(parts, n.Name+" "+what)
	}
	return strings.Join(parts, ", ")
}

// lookupFailure is why an admission could not read its namespace.
type lookupFailure struct {
	code   int32
	reason string
	err    error
}

// lookupNamespace waits for nothing: it fails with 503 while the caches are
// not ready (ready may be nil) or the namespace is not in them yet, and with
// 500 on any other error.
func lookupNamespace(ready func() error, namespaces Namespaces, name string) (*corev1.Namespace, *lookupFailure) {
	if ready != nil {
		if err := ready(); err != nil {
			return nil, &lookupFailure{http.StatusServiceUnavailable, ReasonNotReady, fmt.Errorf("hdscale webhook is not ready: %w", err)}
		}
	}
	ns, err := namespaces.Get(name)
	switch {
	case apierrors.IsNotFound(err):
		return nil, &lookupFailure{http.StatusServiceUnavailable, ReasonUnknownNamespace,
			fmt.Errorf("hdscale: namespace %q is not in the webhook's cache yet; retry", name)}
	case err != nil:
		return nil, &lookupFailure{http.StatusInternalServerError, ReasonInternal, fmt.Errorf("hdscale: looking up namespace %q: %w", name, err)}
	}
	return ns, nil
}
