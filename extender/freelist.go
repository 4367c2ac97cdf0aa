package extender

// freeList keeps a few reusable objects. Unlike sync.Pool it survives
// garbage collections, so the large per-request buffers of a steady stream
// of scheduling cycles are allocated once rather than after every GC.
// kube-scheduler calls the extender from one scheduling cycle at a time, so
// a handful of entries covers the concurrency.
type freeList[T any] struct {
	ch chan *T
}

func newFreeList[T any](size int) freeList[T] { return freeList[T]{ch: make(chan *T, size)} }

// get returns a recycled object or a new zero one.
func (f freeList[T]) get() *T {
	select {
	case v := <-f.ch:
		return v
	default:
		return new(T)
	}
}

// put recycles v unless the list is full.
func (f freeList[T]) put(v *T) {
	select {
	case f.ch <- v:
	default:
	}
}
