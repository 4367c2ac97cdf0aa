package extender

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBodyBudgetWeight(t *testing.T) {
	t.Parallel()
	b := newBodyBudget(2048, 1024)
	for _, tc := range []struct{ cl, want int64 }{
		{-1, 1024}, // chunked: the cap
		{0, 1},
		{100, 100},
		{1024, 1024},
		{5000, 1024},
	} {
		if got := b.weight(tc.cl); got != tc.want {
			t.Errorf("weight(%d) = %d, want %d", tc.cl, got, tc.want)
		}
	}
}

func TestBodyBudgetReserve(t *testing.T) {
	t.Parallel()
	b := newBodyBudget(2048, 1024)
	ctx := context.Background()
	r1, err := b.reserve(ctx, 1024)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := b.reserve(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.inFlight.Load(); got != 2048 {
		t.Fatalf("in flight %d, want 2048", got)
	}
	// Full: a third waits until its context ends.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := b.reserve(cctx, 10)
		done <- err
	}()
	waitFor(t, "the third request waiting", func() bool { return b.waiting.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "2048-byte body budget") {
		t.Fatalf("waiting reserve ended with %v, want the budget and context.Canceled", err)
	}
	// Released budget is reusable.
	r1()
	r3, err := b.reserve(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	r2()
	r3()
	if got := b.inFlight.Load(); got != 0 {
		t.Fatalf("in flight %d after every release, want 0", got)
	}
}

// A flood of maximum-size bodies is read two at a time (budget 2 × max);
// the rest wait, and every request is answered.
func TestHandlerBodyBudgetUnderFlood(t *testing.T) {
	t.Parallel()
	const maxBody = 4096
	e, _, _ := newTestExtender(t, func(o *Options) { o.MaxBodyBytes = maxBody })
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()

	const n = 5
	writers := make([]*io.PipeWriter, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		pr, pw := io.Pipe()
		writers[i] = pw
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/filter", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = maxBody
		req.Header.Set("Content-Type", "application/json")
		wg.Go(func() {
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	waitFor(t, "two requests holding the budget, three waiting", func() bool {
		return e.bodies.inFlight.Load() == 2*maxBody && e.bodies.waiting.Load() == n-2
	})
	if got := testutil.ToFloat64(e.m.bodyBytes); got != 2*maxBody {
		t.Errorf("hdscale_extender_body_bytes_in_flight = %v, want %d", got, 2*maxBody)
	}
	// Feed every body (malformed JSON of the declared size): each is read
	// once it holds budget, answered 400, and frees its share.
	body := "{" + strings.Repeat(" ", maxBody-1)
	for _, pw := range writers {
		go func() {
			_, _ = pw.Write([]byte(body))
			_ = pw.Close()
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusBadRequest {
			t.Errorf("request %d: status %d, want 400", i, c)
		}
	}
	if got := e.bodies.inFlight.Load(); got != 0 {
		t.Errorf("in flight %d after the flood, want 0", got)
	}
	if got := testutil.ToFloat64(e.m.errors.WithLabelValues(errDecode)); got != n {
		t.Errorf("decode errors %v, want %d", got, n)
	}
}
