package plugin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/pool"
	"github.com/hdscale/hdscale/webhook"
)

// configKey is the key of the webhook's config in its ConfigMap.
const configKey = "webhook.yaml"

// webhookConfig reads the webhook's matching rules and declared pool shapes
// from its ConfigMap. When it cannot (not installed there, or the caller may
// not read it) it warns and uses the built-in rules, which the shipped
// ConfigMap equals.
func (r *runner) webhookConfig(ctx context.Context) (webhook.Config, error) {
	ns, name, _ := strings.Cut(r.o.WebhookConfig, "/")
	cm, err := r.c.Kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
		r.warnf("cannot read the webhook config ConfigMap %s (%v); using the built-in matching rules and no declared pool shapes", r.o.WebhookConfig, err)
		return webhook.DefaultConfig(), nil
	case err != nil:
		return webhook.Config{}, fmt.Errorf("reading the webhook config ConfigMap %s: %w", r.o.WebhookConfig, err)
	}
	data, ok := cm.Data[configKey]
	if !ok {
		r.warnf("ConfigMap %s has no %s key; using the built-in matching rules", r.o.WebhookConfig, configKey)
		return webhook.DefaultConfig(), nil
	}
	cfg, err := webhook.ParseConfig([]byte(data))
	if err != nil {
		return webhook.Config{}, fmt.Errorf("ConfigMap %s: %w", r.o.WebhookConfig, err)
	}
	return cfg, nil
}

// cluster is the nodes and the pool facts computed from them as the webhook
// computes them (pool.Facts over the nodes and DaemonSets).
type cluster struct {
	nodes []*corev1.Node
	pools map[string]*pool.Pool
}

func (r *runner) cluster(ctx context.Context) (*cluster, error) {
	nl, err := r.c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	dl, err := r.c.Kube.AppsV1().DaemonSets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing DaemonSets: %w", err)
	}
	c := &cluster{nodes: make([]*corev1.Node, len(nl.Items))}
	for i := range nl.Items {
		c.nodes[i] = &nl.Items[i]
	}
	slices.SortFunc(c.nodes, func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	dss := make([]*appsv1.DaemonSet, len(dl.Items))
	for i := range dl.Items {
		dss[i] = &dl.Items[i]
	}
	c.pools = pool.Facts(c.nodes, dss, r.o.ShapeTolerance)
	return c, nil
}

// pool returns the facts of a pool (nil: no node is labelled for it).
func (c *cluster) pool(name string) *pool.Pool { return c.pools[name] }

// runtimePods lists the pods hdscale decided (hdscale.io/policy set) in
// namespace ("" for all), sorted by namespace and name.
func (r *runner) runtimePods(ctx context.Context, namespace string) ([]*corev1.Pod, error) {
	pl, err := r.c.Kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		where := "in every namespace"
		if namespace != "" {
			where = "in namespace " + namespace
		}
		return nil, fmt.Errorf("listing pods %s: %w", where, err)
	}
	var pods []*corev1.Pod
	for i := range pl.Items {
		if _, ok := pl.Items[i].Annotations[policy.AnnotationPolicy]; ok {
			pods = append(pods, &pl.Items[i])
		}
	}
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return pods, nil
}
