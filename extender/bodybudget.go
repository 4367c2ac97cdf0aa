package extender

import (
	"context"
	"fmt"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// bodyBudget bounds the request body bytes the extender reads and decodes at
// once. kube-scheduler sends one scheduling cycle at a time and its bodies are
// small, so the budget never binds in normal operation; a flood of
// maximum-size bodies (anything able to reach the listener) queues instead of
// holding MaxBodyBytes per concurrent request. A request reserves its declared
// Content-Length, or the per-request cap when the length is unknown
// (chunked), before it reads; a request whose context ends while it waits is
// answered 503.
type bodyBudget struct {
	sem      *semaphore.Weighted
	total    int64
	perReq   int64
	inFlight atomic.Int64 // reserved bytes (hdscale_extender_body_bytes_in_flight)
	waiting  atomic.Int64 // requests waiting for budget
}

func newBodyBudget(total, perRequest int64) *bodyBudget {
	return &bodyBudget{sem: semaphore.NewWeighted(total), total: total, perReq: perRequest}
}

// weight is what a request of contentLength reserves (the caller has already
// refused a declared length beyond the per-request cap).
func (b *bodyBudget) weight(contentLength int64) int64 {
	if contentLength < 0 || contentLength > b.perReq {
		return b.perReq
	}
	return max(contentLength, 1)
}

// reserve blocks until the request's bytes fit the budget or ctx ends; the
// returned release must be called once the request no longer holds its body.
func (b *bodyBudget) reserve(ctx context.Context, contentLength int64) (func(), error) {
	n := b.weight(contentLength)
	b.waiting.Add(1)
	err := b.sem.Acquire(ctx, n)
	b.waiting.Add(-1)
	if err != nil {
		return nil, fmt.Errorf("waiting for %d bytes of the %d-byte body budget: %w", n, b.total, err)
	}
	b.inFlight.Add(n)
	return func() {
		b.inFlight.Add(-n)
		b.sem.Release(n)
	}, nil
}
