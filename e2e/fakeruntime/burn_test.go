package main

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// stepClock advances by step on every reading.
func stepClock(step time.Duration) func() (time.Duration, error) {
	var now time.Duration
	return func() (time.Duration, error) {
		now += step
		return now, nil
	}
}

func TestSpinBurnerStopsAtRequestedThreadCPU(t *testing.T) {
	t.Parallel()
	b := spinBurner{threadCPU: stepClock(time.Millisecond), now: time.Now}
	res, err := b.Burn(context.Background(), work{CPU: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.CPU != 5*time.Millisecond || res.Mode != modeThreadCPU {
		t.Fatalf("res = %+v, want exactly 5ms of thread CPU", res)
	}
}

func TestSpinBurnerWallClockMode(t *testing.T) {
	t.Parallel()
	start := time.Unix(0, 0)
	n := 0
	b := spinBurner{now: func() time.Time { n++; return start.Add(time.Duration(n) * time.Millisecond) }}
	res, err := b.Burn(context.Background(), work{CPU: 3 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.CPU != 3*time.Millisecond || res.Mode != modeWallClock {
		t.Fatalf("res = %+v", res)
	}
}

func TestSpinBurnerCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, w := range []work{{CPU: time.Hour}, {Wall: time.Hour}} {
		for _, b := range []spinBurner{{threadCPU: stepClock(time.Nanosecond), now: time.Now}, {now: time.Now}} {
			if _, err := b.Burn(ctx, w); !errors.Is(err, context.Canceled) {
				t.Fatalf("%s burn of %+v: err = %v, want context.Canceled", b.Mode(), w, err)
			}
		}
	}
}

func TestSpinBurnerClockError(t *testing.T) {
	t.Parallel()
	b := spinBurner{threadCPU: func() (time.Duration, error) { return 0, errNoThreadCPU }, now: time.Now}
	if _, err := b.Burn(context.Background(), work{CPU: time.Millisecond}); !errors.Is(err, errNoThreadCPU) {
		t.Fatalf("err = %v", err)
	}
}

// TestSpinBurnerRealCPU burns a little real CPU with the platform's clock.
func TestSpinBurnerRealCPU(t *testing.T) {
	t.Parallel()
	b := newSpinBurner()
	if runtime.GOOS == "linux" && b.Mode() != modeThreadCPU {
		t.Fatalf("mode = %s on linux, want %s", b.Mode(), modeThreadCPU)
	}
	const want = 2 * time.Millisecond
	res, err := b.Burn(context.Background(), work{CPU: want})
	if err != nil {
		t.Fatal(err)
	}
	if res.CPU < want {
		t.Fatalf("burnt %s, want at least %s", res.CPU, want)
	}
}
