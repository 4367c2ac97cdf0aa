//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Default poll interval of waitFor; conditions are cheap API reads.
const pollInterval = 500 * time.Millisecond

// check is one evaluation of a condition: whether it holds and a short
// description of what was seen, printed if the wait times out. A non-nil
// error is treated as "not yet" (the API may be briefly unavailable) and
// recorded as what was seen, unless it wraps errStop.
type check func(ctx context.Context) (done bool, seen string, err error)

// errStop marks an error after which polling is pointless.
var errStop = errors.New("giving up")

// stop wraps err so that poll returns it at once.
func stop(err error) error { return fmt.Errorf("%w: %w", errStop, err) }

// poll evaluates cond every interval until it holds, ctx ends or timeout
// passes. On failure the error says what was awaited and what was last seen.
func poll(ctx context.Context, interval, timeout time.Duration, what string, cond check) (string, error) {
	var last string
	var lastErr error
	start := time.Now()
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		done, seen, err := cond(ctx)
		if err != nil {
			if errors.Is(err, errStop) {
				return false, err
			}
			lastErr = err
			if seen == "" {
				seen = "error: " + err.Error()
			}
		} else {
			lastErr = nil
		}
		last = seen
		return done && err == nil, nil
	})
	if err == nil {
		return last, nil
	}
	if errors.Is(err, errStop) {
		return last, fmt.Errorf("waiting for %s: %w (last seen: %s)", what, err, last)
	}
	msg := fmt.Sprintf("timed out after %v waiting for %s; last seen: %s", time.Since(start).Round(time.Second), what, last)
	if lastErr != nil && last != "error: "+lastErr.Error() {
		msg += " (last error: " + lastErr.Error() + ")"
	}
	return last, errors.New(msg)
}

// waitFor polls cond (every pollInterval) up to timeout and fails the test
// with what was last seen if it never holds. It returns the last seen value.
func waitFor(t testing.TB, timeout time.Duration, what string, cond check) string {
	t.Helper()
	return waitForEvery(t, pollInterval, timeout, what, cond)
}

// waitForEvery is waitFor with an explicit poll interval.
func waitForEvery(t testing.TB, interval, timeout time.Duration, what string, cond check) string {
	t.Helper()
	ctx := testContext(t)
	start := time.Now()
	seen, err := poll(ctx, interval, timeout, what, cond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ok after %v: %s", time.Since(start).Round(100*time.Millisecond), what)
	return seen
}

// testContext is the context for the API calls of a test. Every wait has its
// own deadline and `go test -timeout` bounds the run, so it is never cancelled:
// cleanups (which run after t.Context() is done) can use it too.
func testContext(testing.TB) context.Context { return context.Background() }

// callContext is a context for one API call or a short sequence of them.
func callContext(t testing.TB) (context.Context, context.CancelFunc) {
	return context.WithTimeout(testContext(t), 3*time.Minute)
}

// waitPollUntilCancel polls cond every interval until it holds or ctx ends
// (for background observers that run as long as their test).
func waitPollUntilCancel(ctx context.Context, interval time.Duration, cond wait.ConditionWithContextFunc) error {
	return wait.PollUntilContextCancel(ctx, interval, true, cond)
}
