package certs

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/hdscale/hdscale/internal/kube"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	admissionregistrationinformers "k8s.io/client-go/informers/admissionregistration/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

const (
	kindMutating   = "MutatingWebhookConfiguration"
	kindValidating = "ValidatingWebhookConfiguration"

	maxPatchAttempts = 5
)

// configTarget is one named webhook configuration whose caBundle is kept current, with an
// informer restricted to that name.
type configTarget struct {
	kind     string
	name     string
	resource string // plural, for RBAC hints
	informer cache.SharedIndexInformer
	get      func(ctx context.Context) (webhookConfig, error)
	patch    func(ctx context.Context, data []byte) (webhookConfig, error)
	convert  func(obj any) (webhookConfig, bool)
}

// key names the target in logs, metrics and readiness errors, e.g. ValidatingWebhookConfiguration "hdscale".
func (t *configTarget) key() string { return fmt.Sprintf("%s %q", t.kind, t.name) }

func (t *configTarget) metricType() string {
	if t.kind == kindMutating {
		return "mutating"
	}
	return "validating"
}

// nameSelector restricts an informer to one object by name (RBAC allows
// only that name), with its watch renewed every kube.MaxWatch.
func nameSelector(name string) func(*metav1.ListOptions) {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	return kube.CapWatch(kube.MaxWatch, func(o *metav1.ListOptions) { o.FieldSelector = sel })
}

func newMutatingTarget(client kubernetes.Interface, name string) *configTarget {
	api := client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	return &configTarget{
		kind:     kindMutating,
		name:     name,
		resource: "mutatingwebhookconfigurations",
		informer: admissionregistrationinformers.NewFilteredMutatingWebhookConfigurationInformer(client, 0, cache.Indexers{}, nameSelector(name)),
		get: func(ctx context.Context) (webhookConfig, error) {
			c, err := api.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return webhookConfig{}, err
			}
			return fromMutating(c), nil
		},
		patch: func(ctx context.Context, data []byte) (webhookConfig, error) {
			c, err := api.Patch(ctx, name, types.JSONPatchType, data, metav1.PatchOptions{FieldManager: fieldManager})
			if err != nil {
				return webhookConfig{}, err
			}
			return fromMutating(c), nil
		},
		convert: func(obj any) (webhookConfig, bool) {
			c, ok := obj.(*admissionregistrationv1.MutatingWebhookConfiguration)
			if !ok {
				return webhookConfig{}, false
			}
			return fromMutating(c), true
		},
	}
}

func newValidatingTarget(client kubernetes.Interface, name string) *configTarget {
	api := client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	return &configTarget{
		kind:     kindValidating,
		name:     name,
		resource: "validatingwebhookconfigurations",
		informer: admissionregistrationinformers.NewFilteredValidatingWebhookConfigurationInformer(client, 0, cache.Indexers{}, nameSelector(name)),
		get: func(ctx context.Context) (webhookConfig, error) {
			c, err := api.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return webhookConfig{}, err
			}
			return fromValidating(c), nil
		},
		patch: func(ctx context.Context, data []byte) (webhookConfig, error) {
			c, err := api.Patch(ctx, name, types.JSONPatchType, data, metav1.PatchOptions{FieldManager: fieldManager})
			if err != nil {
				return webhookConfig{}, err
			}
			return fromValidating(c), nil
		},
		convert: func(obj any) (webhookConfig, bool) {
			c, ok := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration)
			if !ok {
				return webhookConfig{}, false
			}
			return fromValidating(c), true
		},
	}
}

// cached returns the configuration from the informer cache (field selectors are not honoured by
// every client, so the cache is read by exact name).
func (t *configTarget) cached() (webhookConfig, bool) {
	obj, ok, err := t.informer.GetIndexer().GetByKey(t.name)
	if err != nil || !ok {
		return webhookConfig{}, false
	}
	return t.convert(obj)
}

// describe turns an API error about the target into a readiness message saying what to do.
func (t *configTarget) describe(verb string, err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s not found; waiting for it to be created (are the hdscale manifests applied?): %w", t.key(), err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%s: %s forbidden: %w; check RBAC: hdscale's service account needs get, list, watch and patch on %s (admissionregistration.k8s.io)",
			t.key(), verb, err, t.resource)
	default:
		return fmt.Errorf("%s: %s: %w", t.key(), verb, err)
	}
}

// syncTarget makes every webhook in t carry want, patching with optimistic concurrency and
// retrying on conflicts. serving is the certificate replicas serve, to tell repairs (the old
// caBundle did not trust it) from rotation updates.
func (m *Manager) syncTarget(ctx context.Context, t *configTarget, want []byte, serving *x509.Certificate, now time.Time) error {
	if cfg, ok := t.cached(); ok && cfg.hasBundle(want) {
		return nil
	}
	// The cache may lag behind (e.g. our own last patch): decide on the live object, so a
	// stale view neither causes a needless patch nor counts as a repair.
	cfg, err := t.get(ctx)
	if err != nil {
		return t.describe("get", err)
	}
	for attempt := 1; ; attempt++ {
		if cfg.hasBundle(want) {
			return nil
		}
		broken := !cfg.trustsServing(serving, now)
		data, err := caBundlePatch(cfg, want)
		if err != nil {
			return fmt.Errorf("%s: build patch: %w", t.key(), err)
		}
		res, err := t.patch(ctx, data)
		if err == nil {
			if !res.hasBundle(want) {
				return fmt.Errorf("%s: caBundle still differs after a successful patch (is something else rewriting it?)", t.key())
			}
			m.metrics.updates.WithLabelValues(t.metricType(), t.name).Inc()
			if broken {
				m.metrics.repairs.WithLabelValues(t.metricType(), t.name).Inc()
				m.log.Info("repaired caBundle: it did not trust the serving certificate", "configuration", t.key(), "webhooks", len(res.webhooks))
			} else {
				m.log.Info("updated caBundle", "configuration", t.key(), "webhooks", len(res.webhooks))
			}
			return nil
		}
		// A conflict means the object changed since it was read; a failed "test" op (422) means
		// its webhooks were reordered. Either way: read it again and retry.
		retriable := apierrors.IsConflict(err) || isUnprocessable(err)
		if !retriable || attempt >= maxPatchAttempts {
			return t.describe("patch", err)
		}
		m.log.V(1).Info("caBundle patch conflicted; re-reading", "configuration", t.key(), "attempt", attempt, "error", err.Error())
		if cfg, err = t.get(ctx); err != nil {
			return t.describe("get", err)
		}
	}
}

func isUnprocessable(err error) bool {
	var se apierrors.APIStatus
	return errors.As(err, &se) && se.Status().Code == 422
}

// syncBundles publishes want in every target; it returns want when all of them carry it.
func (m *Manager) syncBundles(ctx context.Context, want []byte, serving *x509.Certificate) ([]byte, error) {
	now := m.clock.Now()
	var errs []error
	for _, t := range m.targets {
		err := m.syncTarget(ctx, t, want, serving, now)
		m.status.setConfig(t.key(), err)
		if err != nil {
			m.metrics.errors.WithLabelValues(opCABundle).Inc()
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return want, nil
}

// bundleInCache reports whether the informer caches show want in every target.
func (m *Manager) bundleInCache(want []byte) bool {
	for _, t := range m.targets {
		cfg, ok := t.cached()
		if !ok || !cfg.hasBundle(want) {
			return false
		}
	}
	return true
}
