package extender

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"

	"github.com/hdscale/hdscale/internal/coalesce"
)

// store owns the Builder and publishes its Snapshots. Informer handlers and
// the poller update the builder under mu (never held by a request) and signal
// the rebuild loop, which coalesces bursts of events into one build and swaps
// the snapshot atomically. After each swap it prunes the reservations whose
// pods the new snapshot counts as bound.
type store struct {
	mu    sync.Mutex
	b     *Builder
	snap  atomic.Pointer[Snapshot]
	dirty coalesce.Signal
	res   *Reservations
	clock clock.PassiveClock
	// built, if set, observes each build's duration.
	built func(time.Duration)
}

func newStore(tol float64, res *Reservations, clk clock.PassiveClock) *store {
	s := &store{b: NewBuilder(tol), dirty: coalesce.New(), res: res, clock: clk}
	s.snap.Store(emptySnapshot)
	return s
}

// load returns the current snapshot.
func (s *store) load() *Snapshot { return s.snap.Load() }

// update applies fn to the builder and, when fn reports a change, signals a
// rebuild.
func (s *store) update(fn func(b *Builder) bool) {
	s.mu.Lock()
	changed := fn(s.b)
	s.mu.Unlock()
	if changed {
		s.dirty.Mark()
	}
}

// rebuild builds and publishes a snapshot now, then prunes reservations.
func (s *store) rebuild() *Snapshot {
	start := s.clock.Now()
	s.mu.Lock()
	snap := s.b.Snapshot(start)
	s.mu.Unlock()
	s.snap.Store(snap)
	s.res.Prune(snap, s.clock.Now())
	if s.built != nil {
		s.built(s.clock.Since(start))
	}
	return snap
}

// run rebuilds on every signal until ctx ends; tick (may be nil) triggers a
// periodic prune of expired reservations.
func (s *store) run(ctx context.Context, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.dirty.C():
			s.rebuild()
		case <-tick:
			s.res.Prune(s.load(), s.clock.Now())
		}
	}
}
