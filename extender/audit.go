package extender

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// Auditing the pods that block a placement.
//
// The extender decides from its informers' cache. After an API server
// restart, client-go informers have been seen (e2e TestFaultsUnderLoad,
// Kubernetes 1.37) to keep a watch open that delivers nothing, or to sit in
// backoff, for minutes: a deleted runtime replica stays in the cache and its
// node stays "at the per-node cap", so its replacement is refused until the
// watch times out (5-10 minutes) - while kube-scheduler's own cache, fed by
// other watches, already sees the node free. So when a filter answers "no
// node" and some node failed only because of the cap, the auditor reads the
// pods counted on those nodes from the API server and forgets the ones that
// are gone (or terminal, or elsewhere), which lets the next attempt place
// the pod. It runs in the background (never delaying an answer), one audit
// at a time, each pod at most once per auditInterval.
const (
	auditInterval  = 10 * time.Second
	auditMaxPods   = 16
	auditCallLimit = 5 * time.Second
)

// PodReader reads one pod from the API server (not from a cache).
type PodReader func(ctx context.Context, namespace, name string) (*v1.Pod, error)

// podRef names a pod counted in the builder.
type podRef struct {
	UID             types.UID
	Namespace, Name string
	Node            string
}

// auditor checks blocking pods against the API server.
type auditor struct {
	read  PodReader
	clock clock.PassiveClock
	log   logr.Logger
	// forget removes a pod from the builder (Extender.deletePod).
	forget func(types.UID)
	// phantoms counts the pods forgotten (metric).
	phantoms func()

	busy    sync.Mutex // held by the running audit
	mu      sync.Mutex
	checked map[types.UID]time.Time
}

func newAuditor(read PodReader, clk clock.PassiveClock, log logr.Logger, forget func(types.UID), phantoms func()) *auditor {
	return &auditor{read: read, clock: clk, log: log, forget: forget, phantoms: phantoms, checked: map[types.UID]time.Time{}}
}

// due returns the refs not checked within auditInterval (at most
// auditMaxPods) and marks them checked now.
func (a *auditor) due(refs []podRef) []podRef {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clock.Now()
	for uid, at := range a.checked {
		if now.Sub(at) >= auditInterval {
			delete(a.checked, uid)
		}
	}
	var out []podRef
	for _, r := range refs {
		if _, ok := a.checked[r.UID]; ok || len(out) == auditMaxPods {
			continue
		}
		a.checked[r.UID] = now
		out = append(out, r)
	}
	return out
}

// start audits refs in the background unless an audit is running.
func (a *auditor) start(ctx context.Context, refs []podRef) {
	if !a.busy.TryLock() {
		return // the next rejection tries again
	}
	if refs = a.due(refs); len(refs) == 0 {
		a.busy.Unlock()
		return
	}
	go func() {
		defer a.busy.Unlock()
		a.audit(ctx, refs)
	}()
}

// audit forgets every ref whose pod is gone, replaced (another UID),
// terminal or bound elsewhere; it returns how many it forgot.
func (a *auditor) audit(ctx context.Context, refs []podRef) int {
	forgot := 0
	for _, r := range refs {
		cctx, cancel := context.WithTimeout(ctx, auditCallLimit)
		p, err := a.read(cctx, r.Namespace, r.Name)
		cancel()
		why := ""
		switch {
		case apierrors.IsNotFound(err):
			why = "deleted"
		case err != nil:
			a.log.V(1).Info("auditing a blocking pod failed", "pod", r.Namespace+"/"+r.Name, "err", err.Error())
			continue
		case p.UID != r.UID:
			why = "replaced by a pod of the same name"
		case p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed:
			why = "terminal"
		case p.Spec.NodeName != r.Node:
			why = "bound to another node"
		default:
			continue
		}
		a.log.Info("forgetting a pod the informer cache still counts; the watch missed its change", "pod", r.Namespace+"/"+r.Name, "uid", r.UID, "node", r.Node, "why", why)
		a.forget(r.UID)
		if a.phantoms != nil {
			a.phantoms()
		}
		forgot++
	}
	return forgot
}
