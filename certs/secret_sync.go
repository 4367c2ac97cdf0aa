package certs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	fieldManager = "hdscale-certs"
	// maxSecretWrites bounds one syncSecret: a few successive actions (e.g. generate, then
	// nothing) plus retries after conflicts with other replicas.
	maxSecretWrites = 8
)

func (m *Manager) secretRef() string { return m.opts.Namespace + "/" + m.opts.SecretName }

// cachedSecret returns the Secret from the informer cache (nil when absent).
func (m *Manager) cachedSecret() *corev1.Secret {
	obj, ok, err := m.secretInformer.GetIndexer().GetByKey(m.secretRef())
	if err != nil || !ok {
		return nil
	}
	sec, _ := obj.(*corev1.Secret)
	return sec
}

// liveSecret reads the Secret from the API server (nil, nil when absent).
func (m *Manager) liveSecret(ctx context.Context) (*corev1.Secret, error) {
	sec, err := m.client.CoreV1().Secrets(m.opts.Namespace).Get(ctx, m.opts.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, m.describeSecretErr("get", err)
	}
	return sec, nil
}

func (m *Manager) describeSecretErr(verb string, err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("Secret %s: %s forbidden: %w; check RBAC: hdscale's service account needs get, list, watch, create and update on secrets in namespace %s",
			m.secretRef(), verb, err, m.opts.Namespace)
	}
	return fmt.Errorf("Secret %s: %s: %w", m.secretRef(), verb, err)
}

// syncSecret brings the Secret to a state Plan is content with and returns that state and the
// final (ActionNone) plan. Several replicas may run it at once: creation is create-or-adopt and
// every update carries the resourceVersion it was planned on, so a conflict means another
// replica acted first: re-read, re-plan (usually to nothing), retry. published tells whether a
// bundle is in every webhook configuration. A foreign Secret is never written.
func (m *Manager) syncSecret(ctx context.Context, published func([]byte) bool) (State, Action, error) {
	sec := m.cachedSecret()
	for range maxSecretWrites {
		if sec != nil {
			if err := checkOwnership(sec); err != nil {
				return State{}, Action{}, err
			}
		}
		st := decodeState(sec)
		st.BundlePublished = st.CA != nil && published(st.Bundle())
		now := m.clock.Now()
		act := Plan(st, now, m.opts)
		owners := m.owners()
		if act.Kind == ActionNone && sec != nil && secretUpToDate(sec, st) && ownersUpToDate(sec, owners) {
			return st, act, nil
		}
		if act.Kind == ActionNone {
			act.Reason = "normalizing the Secret's contents"
			if sec != nil && secretUpToDate(sec, st) {
				act.Reason = "setting the webhook configurations as the Secret's owners"
			}
		}
		if len(st.Problems) > 0 {
			m.metrics.errors.WithLabelValues(opCorrupt).Inc()
			m.log.Error(errors.New(strings.Join(st.Problems, "; ")), "the Secret holds unusable material; replacing it",
				"secret", m.secretRef(), "action", string(act.Kind))
		}
		next, err := apply(st, act, now, m.opts)
		if err != nil {
			return State{}, Action{}, fmt.Errorf("Secret %s: %s: %w", m.secretRef(), act.Kind, err)
		}
		out := encodeSecret(sec, m.opts.Namespace, m.opts.SecretName, next, formatTime(now)+" "+act.String())
		out.OwnerReferences = wantOwners(sec, owners)

		var written *corev1.Secret
		if sec == nil && len(owners) == 0 && len(m.targets) > 0 {
			// The configurations own the Secret: without any there is nothing
			// to serve, and a Secret made now would outlive an uninstall
			// (the configurations are deleted first, the garbage collector
			// then deletes the Secret while this replica still runs).
			return State{}, Action{}, &waitingForOwnersError{secret: m.secretRef(), configurations: m.targetKeys()}
		}
		if sec == nil {
			written, err = m.client.CoreV1().Secrets(m.opts.Namespace).Create(ctx, out, metav1.CreateOptions{FieldManager: fieldManager})
			if apierrors.IsAlreadyExists(err) {
				// Another replica created it first: adopt theirs.
				m.log.V(1).Info("Secret created concurrently by another replica; adopting it", "secret", m.secretRef())
				if sec, err = m.liveSecret(ctx); err != nil {
					return State{}, Action{}, err
				}
				continue
			}
			if err != nil {
				return State{}, Action{}, m.describeSecretErr("create", err)
			}
		} else {
			written, err = m.client.CoreV1().Secrets(m.opts.Namespace).Update(ctx, out, metav1.UpdateOptions{FieldManager: fieldManager})
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				m.log.V(1).Info("Secret changed concurrently; re-reading", "secret", m.secretRef(), "action", string(act.Kind))
				if sec, err = m.liveSecret(ctx); err != nil {
					return State{}, Action{}, err
				}
				continue
			}
			if err != nil {
				return State{}, Action{}, m.describeSecretErr("update", err)
			}
		}
		m.recordWrite(sec, next, act)
		sec = written
	}
	return State{}, Action{}, fmt.Errorf("Secret %s: still changing after %d attempts (conflicting writers?)", m.secretRef(), maxSecretWrites)
}

// recordWrite logs a successful Secret write and counts rotations.
func (m *Manager) recordWrite(before *corev1.Secret, next State, act Action) {
	m.log.Info("updated the webhook TLS Secret", "secret", m.secretRef(), "action", string(act.Kind), "reason", act.Reason,
		"phase", string(next.Phase()), "created", before == nil)
	switch act.Kind {
	case ActionGenerate:
		if before != nil { // regenerating existing (unusable or expired) material
			m.metrics.rotations.WithLabelValues(kindCA).Inc()
			m.metrics.rotations.WithLabelValues(kindServing).Inc()
		}
	case ActionStartCARotation:
		m.metrics.rotations.WithLabelValues(kindCA).Inc()
	case ActionRenewServing, ActionSwitchCA:
		m.metrics.rotations.WithLabelValues(kindServing).Inc()
	}
}
