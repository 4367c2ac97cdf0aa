package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/hdscale/hdscale/internal/coalesce"
)

// Manager keeps the webhook TLS Secret, the webhook configurations' caBundle and the served
// certificate correct. Create it with NewManager and run it with Start.
type Manager struct {
	client  kubernetes.Interface
	opts    Options
	log     logr.Logger
	clock   clock.Clock
	metrics *metrics

	secretInformer cache.SharedIndexInformer
	targets        []*configTarget
	informerNames  []string // for readiness messages, same order as informers()

	current     atomic.Pointer[tls.Certificate]
	trigger     coalesce.Signal
	started     atomic.Bool
	synced      atomic.Bool
	reconcileMu sync.Mutex
	status      *status
	wg          sync.WaitGroup
}

// NewManager validates opts (after applying Default to a copy), registers the metrics on reg
// (nil: not registered) and prepares the informers; nothing talks to the API server before Start.
func NewManager(client kubernetes.Interface, opts Options, log logr.Logger, reg prometheus.Registerer) (*Manager, error) {
	if client == nil {
		return nil, errors.New("certs: NewManager: nil client")
	}
	opts.ExtraDNSNames = append([]string(nil), opts.ExtraDNSNames...)
	opts.MutatingWebhookConfigurations = append([]string(nil), opts.MutatingWebhookConfigurations...)
	opts.ValidatingWebhookConfigurations = append([]string(nil), opts.ValidatingWebhookConfigurations...)
	opts.Default()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	met, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		client:  client,
		opts:    opts,
		log:     log.WithName("certs"),
		clock:   opts.Clock,
		metrics: met,
		trigger: coalesce.New(),
	}

	m.secretInformer = coreinformers.NewFilteredSecretInformer(client, opts.Namespace, 0, cache.Indexers{}, nameSelector(opts.SecretName))
	for _, n := range opts.MutatingWebhookConfigurations {
		m.targets = append(m.targets, newMutatingTarget(client, n))
	}
	for _, n := range opts.ValidatingWebhookConfigurations {
		m.targets = append(m.targets, newValidatingTarget(client, n))
	}
	keys := make([]string, 0, len(m.targets))
	for _, t := range m.targets {
		keys = append(keys, t.key())
	}
	m.status = newStatus("Secret "+m.secretRef(), keys)

	onSecret := func(obj any) {
		if sec, ok := obj.(*corev1.Secret); ok {
			m.loadFromSecret(sec)
		}
		m.trigger.Mark()
	}
	if err := m.watch(m.secretInformer, "Secret "+m.secretRef(), cache.ResourceEventHandlerFuncs{
		AddFunc:    onSecret,
		UpdateFunc: func(_, obj any) { onSecret(obj) },
		DeleteFunc: func(any) { m.trigger.Mark() },
	}); err != nil {
		return nil, err
	}
	for _, t := range m.targets {
		if err := m.watch(t.informer, t.key(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { m.trigger.Mark() },
			UpdateFunc: func(any, any) { m.trigger.Mark() },
			DeleteFunc: func(any) { m.trigger.Mark() },
		}); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// watch registers handlers on inf and records its list/watch errors for Ready.
func (m *Manager) watch(inf cache.SharedIndexInformer, name string, h cache.ResourceEventHandler) error {
	if _, err := inf.AddEventHandler(h); err != nil {
		return fmt.Errorf("certs: add event handler for %s: %w", name, err)
	}
	if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		m.status.setWatch(name, err)
		m.metrics.errors.WithLabelValues(opWatch).Inc()
		m.log.Error(err, "list/watch failed; retrying", "informer", name)
	}); err != nil {
		return fmt.Errorf("certs: set watch error handler for %s: %w", name, err)
	}
	m.informerNames = append(m.informerNames, name)
	return nil
}

func (m *Manager) informers() []cache.SharedIndexInformer {
	infs := []cache.SharedIndexInformer{m.secretInformer}
	for _, t := range m.targets {
		infs = append(infs, t.informer)
	}
	return infs
}

// Start runs the informers, waits for their caches, reconciles once (creating or adopting the
// Secret and patching caBundles) and then keeps reconciling in goroutines until ctx is done, on
// every change of the watched objects, when a rotation step falls due and every ResyncPeriod.
// It returns after the caches synced (nil; failures are then reported by Ready and retried) or
// when ctx is done first (an error saying what was still missing).
func (m *Manager) Start(ctx context.Context) error {
	if !m.started.CompareAndSwap(false, true) {
		return errors.New("certs: Manager already started")
	}
	m.startInformers(ctx)
	synced := make([]cache.InformerSynced, 0, len(m.targets)+1)
	for _, inf := range m.informers() {
		synced = append(synced, inf.HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("certs: stopped before the informer caches synced: %w", errors.Join(ctx.Err(), m.Ready()))
	}
	m.synced.Store(true)
	wake, err := m.reconcile(ctx)
	m.wg.Go(func() { m.run(ctx, wake, err) })
	return nil
}

func (m *Manager) startInformers(ctx context.Context) {
	for _, inf := range m.informers() {
		m.wg.Go(func() { inf.RunWithContext(ctx) })
	}
}

// wait blocks until every goroutine Start launched has returned (after ctx is done).
func (m *Manager) wait() { m.wg.Wait() }

// run is the reconcile loop.
func (m *Manager) run(ctx context.Context, wake time.Time, err error) {
	failures := 0
	for {
		delay := m.opts.ResyncPeriod
		if err != nil {
			failures++
			delay = retryDelay(failures, m.opts.ResyncPeriod)
			if ctx.Err() == nil {
				logRetry(m.log, err, delay)
			}
		} else {
			failures = 0
			if !wake.IsZero() {
				delay = min(delay, wake.Sub(m.clock.Now()))
			}
		}
		timer := m.clock.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-m.trigger.C():
			timer.Stop()
		case <-timer.C():
		}
		wake, err = m.reconcile(ctx)
	}
}

// retryDelay backs off exponentially from 500ms to min(ResyncPeriod, 1m).
func retryDelay(failures int, resync time.Duration) time.Duration {
	d := 500 * time.Millisecond << min(failures-1, 10)
	return min(d, resync, time.Minute)
}

// reconcile makes one pass: Secret, then caBundles, then (during phase 1, whose progress
// depends on the bundle being published) the Secret again. It returns when the next step falls
// due by time alone.
func (m *Manager) reconcile(ctx context.Context) (time.Time, error) {
	m.reconcileMu.Lock()
	defer m.reconcileMu.Unlock()

	st, act, err := m.syncSecretStep(ctx, m.bundleInCache)
	if err != nil {
		return time.Time{}, err
	}
	confirmed, err := m.syncBundles(ctx, st.Bundle(), servingCert(st))
	if err != nil || st.Phase() != PhaseCAAdded {
		return act.Wake, err
	}
	// This replica just confirmed the bundle in every configuration: let Plan use that.
	st, act, err = m.syncSecretStep(ctx, func(b []byte) bool { return bytes.Equal(b, confirmed) || m.bundleInCache(b) })
	if err != nil {
		return time.Time{}, err
	}
	if !bytes.Equal(st.Bundle(), confirmed) {
		_, err = m.syncBundles(ctx, st.Bundle(), servingCert(st))
	}
	return act.Wake, err
}

// syncSecretStep runs syncSecret and publishes its outcome (status, metrics, served cert).
func (m *Manager) syncSecretStep(ctx context.Context, published func([]byte) bool) (State, Action, error) {
	st, act, err := m.syncSecret(ctx, published)
	m.status.setSecret(err)
	if err != nil {
		m.metrics.errors.WithLabelValues(opSecret).Inc()
		for _, t := range m.targets {
			m.status.setConfig(t.key(), fmt.Errorf("%s: caBundle not checked: waiting for a valid Secret %s", t.key(), m.secretRef()))
		}
		return st, act, err
	}
	m.loadFromState(st)
	m.metrics.notAfter.WithLabelValues(kindCA).Set(float64(st.CA.Cert.NotAfter.Unix()))
	m.metrics.phase.Set(phaseValue(st.Phase()))
	return st, act, nil
}

func servingCert(st State) *x509.Certificate {
	if st.Serving == nil {
		return nil
	}
	return st.Serving.Cert
}
