package webhook

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
)

// Namespaces looks namespaces up in a cache (never the API server). Get
// returns an error satisfying apierrors.IsNotFound for an unknown namespace.
// A client-go NamespaceLister satisfies it.
type Namespaces interface {
	Get(name string) (*corev1.Namespace, error)
}

// PoolShapes returns what is known about a node pool's schedulable nodes: the
// zero PoolShape for a pool without Ready, schedulable nodes.
type PoolShapes interface {
	PoolShape(pool string) policy.PoolShape
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

// StaticPools is a fixed PoolShapes: pool name -> shape.
type StaticPools map[string]policy.PoolShape

// PoolShape implements PoolShapes.
func (s StaticPools) PoolShape(pool string) policy.PoolShape { return s[pool] }

// describeShape is a short human description of a pool shape for messages.
func describeShape(pool string, s policy.PoolShape) string {
	if s.Nodes == 0 {
		return fmt.Sprintf("pool %s has no Ready schedulable nodes", pool)
	}
	if s.Uneven() {
		return fmt.Sprintf("pool %s has %d nodes with %s to %s allocatable CPU", pool, s.Nodes,
			policy.MilliString(s.MinCPUMilli), policy.MilliString(s.MaxCPUMilli))
	}
	return fmt.Sprintf("pool %s has %d nodes with %s allocatable CPU", pool, s.Nodes, policy.MilliString(s.MinCPUMilli))
}
