package certs

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// status holds the latest outcome of each part of the work, for Ready.
type status struct {
	mu      sync.Mutex
	secret  error
	configs map[string]error // by target key, reported in configOrder
	order   []string
	watch   map[string]error // last list/watch error per informer, shown until it syncs
}

// newStatus starts with every part "not reconciled yet". Errors stored here name their object.
func newStatus(secretRef string, configKeys []string) *status {
	s := &status{
		secret:  fmt.Errorf("%s: not reconciled yet", secretRef),
		configs: make(map[string]error, len(configKeys)),
		order:   configKeys,
		watch:   map[string]error{},
	}
	for _, k := range configKeys {
		s.configs[k] = fmt.Errorf("%s: not reconciled yet", k)
	}
	return s
}

func (s *status) setSecret(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secret = err
}

func (s *status) setConfig(key string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configs[key] = err
}

func (s *status) setWatch(informer string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watch[informer] = err
}

// Ready returns nil only when the Secret is valid, its serving certificate is loaded and
// unexpired, and every configured webhook configuration carries the correct caBundle. Otherwise
// the error says precisely what is wrong (one line per problem). Safe to call at any time, also
// before Start.
func (m *Manager) Ready() error {
	var errs []error
	synced := m.synced.Load()
	m.status.mu.Lock()
	if !synced {
		errs = append(errs, errors.New("certs: informer caches not synced yet"))
		for _, inf := range m.informerNames {
			if err := m.status.watch[inf]; err != nil {
				errs = append(errs, fmt.Errorf("certs: watching %s: %w", inf, err))
			}
		}
	}
	if err := m.status.secret; err != nil {
		errs = append(errs, fmt.Errorf("certs: %w", err))
	}
	for _, k := range m.status.order {
		if err := m.status.configs[k]; err != nil {
			errs = append(errs, fmt.Errorf("certs: %w", err))
		}
	}
	m.status.mu.Unlock()

	if cert := m.current.Load(); cert == nil {
		errs = append(errs, fmt.Errorf("certs: no serving certificate loaded from Secret %s/%s yet", m.opts.Namespace, m.opts.SecretName))
	} else if now := m.clock.Now(); !now.Before(cert.Leaf.NotAfter) {
		errs = append(errs, fmt.Errorf("certs: the loaded serving certificate expired at %s", cert.Leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}
