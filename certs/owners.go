package certs

import (
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The TLS Secret is owned by the webhook configurations it serves: each
// configured Mutating- and ValidatingWebhookConfiguration that exists becomes
// an ownerReference of the Secret. Kubernetes' garbage collector deletes the
// Secret once all of them are gone, so `helm uninstall`, `kubectl delete -f`
// of the release file or deleting the configurations by hand remove the
// Secret hdscale made at run time, even when hdscale's namespace stays (chart
// value namespace.create=false) and whether or not the webhook still runs.
// A configuration deleted and created again (a new UID) gets a new reference
// on the next reconcile.

// owner is one webhook configuration as an owner of the Secret.
type owner struct {
	kind string
	name string
	uid  types.UID
}

func (o owner) reference() metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: admissionregistrationv1.SchemeGroupVersion.String(),
		Kind:       o.kind,
		Name:       o.name,
		UID:        o.uid,
	}
}

// isOurs reports whether ref points at a webhook configuration kind this
// package manages as an owner (any name: a renamed configuration's stale
// reference is replaced, not kept).
func isOurs(ref metav1.OwnerReference) bool {
	return ref.APIVersion == admissionregistrationv1.SchemeGroupVersion.String() &&
		(ref.Kind == kindMutating || ref.Kind == kindValidating)
}

// wantOwners is sec's ownerReferences with the webhook configuration
// references replaced by owners (in order); references to anything else are
// kept as they are. With no owners (no configuration exists yet) the
// Secret's references stay untouched: a Secret without any owner is never
// collected, and one whose owners are all gone is about to be.
func wantOwners(sec *corev1.Secret, owners []owner) []metav1.OwnerReference {
	var current []metav1.OwnerReference
	if sec != nil {
		current = sec.OwnerReferences
	}
	if len(owners) == 0 {
		return current
	}
	out := make([]metav1.OwnerReference, 0, len(current)+len(owners))
	for _, ref := range current {
		if !isOurs(ref) {
			out = append(out, ref)
		}
	}
	for _, o := range owners {
		out = append(out, o.reference())
	}
	return out
}

// ownersUpToDate reports whether sec already carries exactly wantOwners.
func ownersUpToDate(sec *corev1.Secret, owners []owner) bool {
	return slices.EqualFunc(sec.OwnerReferences, wantOwners(sec, owners), func(a, b metav1.OwnerReference) bool {
		return a.APIVersion == b.APIVersion && a.Kind == b.Kind && a.Name == b.Name && a.UID == b.UID &&
			equalBoolPtr(a.Controller, b.Controller) && equalBoolPtr(a.BlockOwnerDeletion, b.BlockOwnerDeletion)
	})
}

func equalBoolPtr(a, b *bool) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// owners lists the configured webhook configurations present in the
// informer caches, in configuration order.
func (m *Manager) owners() []owner {
	var out []owner
	for _, t := range m.targets {
		if c, ok := t.cached(); ok && c.uid != "" {
			out = append(out, owner{kind: t.kind, name: t.name, uid: c.uid})
		}
	}
	return out
}

// targetKeys names the configured webhook configurations, for messages.
func (m *Manager) targetKeys() string {
	keys := make([]string, 0, len(m.targets))
	for _, t := range m.targets {
		keys = append(keys, t.key())
	}
	return strings.Join(keys, ", ")
}
