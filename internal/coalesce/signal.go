// Package coalesce has the wake-up signal of hdscale's rebuild and reconcile
// loops (the extender's snapshot store, the webhook's pool and drift caches,
// the TLS manager): informer handlers mark it on every event, the loop waits
// on it, and a burst of events before the loop wakes is one wake-up.
package coalesce

// Signal is a coalescing wake-up: any number of Marks before a receive from
// C count as one. The zero value is not usable; call New.
type Signal struct {
	c chan struct{}
}

// New returns a Signal with nothing pending.
func New() Signal {
	return Signal{c: make(chan struct{}, 1)}
}

// Mark makes a wake-up pending. It never blocks: when one is pending
// already, the waiter has yet to wake and will see this change too.
func (s Signal) Mark() {
	select {
	case s.c <- struct{}{}:
	default:
	}
}

// C is received from by the waiting loop; a receive takes the pending
// wake-up.
func (s Signal) C() <-chan struct{} {
	return s.c
}
