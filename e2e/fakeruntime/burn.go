package main

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"
)

// work is what one execution asks a worker to do.
type work struct {
	CPU  time.Duration // CPU time to burn
	Wall time.Duration // then idle this long, still holding the worker (like waiting on adapter I/O)
}

// burnResult is what a burner did.
type burnResult struct {
	CPU  time.Duration // CPU time burnt as measured (wall time spun in wall-clock mode)
	Mode string
}

// burner performs one execution's work on the calling goroutine. It stops
// early with ctx.Err() when ctx is done.
type burner interface {
	Burn(ctx context.Context, w work) (burnResult, error)
}

// Burn modes.
const (
	modeThreadCPU = "thread-cpu" // spin until the OS thread has used the requested CPU time
	modeWallClock = "wall-clock" // spin until the requested wall time has passed
)

// errNoThreadCPU is returned by threadCPUTime where it is not supported.
var errNoThreadCPU = errors.New("per-thread CPU time not supported on this platform")

// spinBurner burns real CPU. With a thread CPU clock the goroutine is locked
// to its OS thread and spins until that thread has used the requested CPU
// time, so under CPU throttling or contention an execution takes longer in
// wall time, as a real workflow would. Without one it spins on wall time.
type spinBurner struct {
	threadCPU func() (time.Duration, error) // nil: wall-clock mode
	now       func() time.Time
}

// newSpinBurner probes the platform's thread CPU clock once.
func newSpinBurner() spinBurner {
	b := spinBurner{now: time.Now}
	runtime.LockOSThread()
	_, err := threadCPUTime()
	runtime.UnlockOSThread()
	if err == nil {
		b.threadCPU = threadCPUTime
	}
	return b
}

func (b spinBurner) Mode() string {
	if b.threadCPU != nil {
		return modeThreadCPU
	}
	return modeWallClock
}

func (b spinBurner) Burn(ctx context.Context, w work) (burnResult, error) {
	res := burnResult{Mode: b.Mode()}
	if w.CPU > 0 {
		var err error
		if b.threadCPU != nil {
			res.CPU, err = b.spinThreadCPU(ctx, w.CPU)
		} else {
			res.CPU, err = b.spinWall(ctx, w.CPU)
		}
		if err != nil {
			return res, err
		}
	}
	if w.Wall > 0 {
		t := time.NewTimer(w.Wall)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	return res, nil
}

func (b spinBurner) spinThreadCPU(ctx context.Context, target time.Duration) (time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, err := b.threadCPU()
	if err != nil {
		return 0, err
	}
	for {
		spin()
		now, err := b.threadCPU()
		if err != nil {
			return 0, err
		}
		used := now - start
		if used >= target {
			return used, nil
		}
		if err := ctx.Err(); err != nil {
			return used, err
		}
	}
}

func (b spinBurner) spinWall(ctx context.Context, target time.Duration) (time.Duration, error) {
	start := b.now()
	for {
		spin()
		used := b.now().Sub(start)
		if used >= target {
			return used, nil
		}
		if err := ctx.Err(); err != nil {
			return used, err
		}
	}
}

// spinIterations keeps one spin chunk in the tens of microseconds, so the
// clock read between chunks costs little and cancellation is prompt.
const spinIterations = 1 << 15

// spinSink keeps the compiler from dropping the spin loop.
var spinSink atomic.Uint64

func spin() {
	x := spinSink.Load() | 1
	for range spinIterations {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	spinSink.Store(x)
}
