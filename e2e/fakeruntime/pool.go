package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// errAborted means the pool was aborted (shutdown budget exhausted) before or
// while the execution ran.
var errAborted = errors.New("execution aborted: runtime is shutting down")

// errBurnerPanic means the burner panicked; the worker is still returned.
var errBurnerPanic = errors.New("execution panicked")

type eventKind int

const (
	eventArrived  eventKind = iota // the execution entered the pool's queue
	eventStarted                   // it got a worker
	eventFinished                  // it released its worker
)

func (k eventKind) String() string {
	switch k {
	case eventArrived:
		return "arrived"
	case eventStarted:
		return "started"
	case eventFinished:
		return "finished"
	}
	return fmt.Sprintf("eventKind(%d)", int(k))
}

// poolEvent is reported to the pool's hook. Seq numbers executions in
// arrival order starting at 1; Worker is -1 while none is held.
type poolEvent struct {
	Kind   eventKind
	Seq    uint64
	Worker int
}

// poolStats is a consistent snapshot of the pool's counters.
type poolStats struct {
	Workers   int
	Busy      int
	Queued    int
	Started   uint64
	Completed uint64
	Failed    uint64
	Aborted   uint64
	QueueWait time.Duration
	Run       time.Duration
	CPU       time.Duration
}

// execution is what one run through the pool looked like.
type execution struct {
	Seq    uint64
	Worker int
	Queued time.Duration
	Run    time.Duration
	Burn   burnResult
}

// pool is a fixed set of workers like uvicorn's WEB_CONCURRENCY worker
// processes: each runs one execution at a time and executions beyond the
// worker count wait in a FIFO queue. The queue is the point: it reproduces a
// runtime pod whose requests wait behind a slow execution.
//
// A running or queued execution is not cancelled when its client goes away
// (the real runtime does not notice either); only abort stops them.
type pool struct {
	burner burner
	free   chan int // idle worker ids
	now    func() time.Time
	hook   func(poolEvent) // optional; called synchronously, in order per execution

	ctx   context.Context // done once aborted
	abort context.CancelFunc

	mu  sync.Mutex
	seq uint64
	st  poolStats
}

func newPool(workers int, b burner, hook func(poolEvent)) *pool {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pool{
		burner: b,
		free:   make(chan int, workers),
		now:    time.Now,
		hook:   hook,
		ctx:    ctx,
		abort:  cancel,
		st:     poolStats{Workers: workers},
	}
	for i := range workers {
		p.free <- i
	}
	return p
}

// execute queues w, runs it on the first free worker and returns once it is
// done. It returns errAborted if the pool is aborted first.
func (p *pool) execute(w work) (execution, error) {
	p.mu.Lock()
	p.seq++
	ex := execution{Seq: p.seq, Worker: -1}
	p.st.Queued++
	p.mu.Unlock()
	p.emit(eventArrived, ex)

	arrived := p.now()
	select {
	case ex.Worker = <-p.free:
	case <-p.ctx.Done():
	}
	if p.ctx.Err() != nil { // aborted while queued; hand back a worker we may have got
		if ex.Worker >= 0 {
			p.free <- ex.Worker
			ex.Worker = -1
		}
		p.mu.Lock()
		p.st.Queued--
		p.st.Aborted++
		p.mu.Unlock()
		return ex, errAborted
	}
	started := p.now()
	ex.Queued = started.Sub(arrived)
	p.mu.Lock()
	p.st.Queued--
	p.st.Busy++
	p.st.Started++
	p.st.QueueWait += ex.Queued
	p.mu.Unlock()
	p.emit(eventStarted, ex)

	var err error
	ex.Burn, err = p.burn(w)
	ex.Run = p.now().Sub(started)
	if err != nil && p.ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", errAborted, err)
	}

	p.mu.Lock()
	p.st.Busy--
	p.st.Run += ex.Run
	p.st.CPU += ex.Burn.CPU
	switch {
	case err == nil:
		p.st.Completed++
	case errors.Is(err, errAborted):
		p.st.Aborted++
	default:
		p.st.Failed++
	}
	p.mu.Unlock()
	p.emit(eventFinished, ex)
	p.free <- ex.Worker
	return ex, err
}

// burn runs the burner, turning a panic into an error so the worker is
// always returned to the pool.
func (p *pool) burn(w work) (res burnResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errBurnerPanic, r)
		}
	}()
	return p.burner.Burn(p.ctx, w)
}

func (p *pool) emit(k eventKind, ex execution) {
	if p.hook != nil {
		p.hook(poolEvent{Kind: k, Seq: ex.Seq, Worker: ex.Worker})
	}
}

func (p *pool) stats() poolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}
