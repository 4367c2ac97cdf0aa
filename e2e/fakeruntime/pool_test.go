package main

import (
	"errors"
	"testing"
	"time"
)

type execResult struct {
	ex  execution
	err error
}

func executeAsync(p *pool, w work) <-chan execResult {
	ch := make(chan execResult, 1)
	go func() {
		ex, err := p.execute(w)
		ch <- execResult{ex, err}
	}()
	return ch
}

func expectEvent(t *testing.T, events <-chan poolEvent, want poolEvent) {
	t.Helper()
	if got := recv(t, events); got != want {
		t.Fatalf("event = %+v, want %+v", got, want)
	}
}

func TestPoolRunsExecutionsBeyondWorkersOneAfterTheOther(t *testing.T) {
	t.Parallel()
	gate := newGateBurner()
	events := make(chan poolEvent, 16)
	p := newPool(1, gate, func(e poolEvent) { events <- e })
	t.Cleanup(p.abort)

	first := executeAsync(p, work{CPU: time.Second})
	callFirst := recv(t, gate.started)
	expectEvent(t, events, poolEvent{eventArrived, 1, -1})
	expectEvent(t, events, poolEvent{eventStarted, 1, 0})

	second := executeAsync(p, work{CPU: 2 * time.Second})
	expectEvent(t, events, poolEvent{eventArrived, 2, -1})
	if st := p.stats(); st.Busy != 1 || st.Queued != 1 || st.Started != 1 {
		t.Fatalf("while the first runs: %+v, want 1 busy, 1 queued, 1 started", st)
	}
	select {
	case c := <-gate.started:
		t.Fatalf("second execution (%+v) started while the only worker is busy", c.Work)
	default:
	}

	callFirst.release <- nil
	if r := recv(t, first); r.err != nil || r.ex.Worker != 0 || r.ex.Seq != 1 {
		t.Fatalf("first = %+v, %v", r.ex, r.err)
	}
	// The worker is handed over only after the first execution finished.
	expectEvent(t, events, poolEvent{eventFinished, 1, 0})
	expectEvent(t, events, poolEvent{eventStarted, 2, 0})
	callSecond := recv(t, gate.started)
	if callSecond.Work.CPU != 2*time.Second {
		t.Fatalf("second burner call got %+v", callSecond.Work)
	}
	callSecond.release <- nil
	if r := recv(t, second); r.err != nil || r.ex.Worker != 0 || r.ex.Seq != 2 {
		t.Fatalf("second = %+v, %v", r.ex, r.err)
	}
	expectEvent(t, events, poolEvent{eventFinished, 2, 0})
	st := p.stats()
	if st.Busy != 0 || st.Queued != 0 || st.Started != 2 || st.Completed != 2 || st.CPU != 3*time.Second {
		t.Fatalf("after both: %+v", st)
	}
}

func TestPoolRunsUpToWorkersConcurrently(t *testing.T) {
	t.Parallel()
	gate := newGateBurner()
	events := make(chan poolEvent, 16)
	p := newPool(2, gate, func(e poolEvent) { events <- e })
	t.Cleanup(p.abort)

	a := executeAsync(p, work{})
	callA := recv(t, gate.started)
	b := executeAsync(p, work{})
	callB := recv(t, gate.started) // both run at once on two workers
	if st := p.stats(); st.Busy != 2 || st.Queued != 0 {
		t.Fatalf("two running: %+v", st)
	}
	c := executeAsync(p, work{})
	for range 5 { // arrived+started for a and b, arrived for c
		if e := recv(t, events); e.Seq == 3 && e.Kind != eventArrived {
			t.Fatalf("third execution %v while both workers are busy", e.Kind)
		}
	}
	if st := p.stats(); st.Busy != 2 || st.Queued != 1 {
		t.Fatalf("third queued: %+v", st)
	}

	callB.release <- nil
	rb := recv(t, b)
	callC := recv(t, gate.started)
	callA.release <- nil
	ra := recv(t, a)
	callC.release <- nil
	rc := recv(t, c)
	if ra.ex.Worker == rb.ex.Worker {
		t.Fatalf("concurrent executions shared worker %d", ra.ex.Worker)
	}
	if rc.ex.Worker != rb.ex.Worker {
		t.Fatalf("third ran on worker %d, want %d, the one freed first", rc.ex.Worker, rb.ex.Worker)
	}
}

func TestPoolAbortStopsRunningAndQueued(t *testing.T) {
	t.Parallel()
	gate := newGateBurner()
	events := make(chan poolEvent, 16)
	p := newPool(1, gate, func(e poolEvent) { events <- e })

	running := executeAsync(p, work{CPU: time.Hour})
	recv(t, gate.started)
	queued := executeAsync(p, work{CPU: time.Hour})
	for range 3 {
		recv(t, events)
	}
	p.abort()
	for _, ch := range []<-chan execResult{running, queued} {
		if r := recv(t, ch); !errors.Is(r.err, errAborted) {
			t.Fatalf("err = %v, want errAborted", r.err)
		}
	}
	if st := p.stats(); st.Aborted != 2 || st.Busy != 0 || st.Queued != 0 || st.Completed != 0 {
		t.Fatalf("after abort: %+v", st)
	}
}

func TestPoolSurvivesBurnerPanic(t *testing.T) {
	t.Parallel()
	p := newPool(1, panicBurner{}, nil)
	t.Cleanup(p.abort)
	for range 2 { // the second run needs the worker the first one panicked on
		if _, err := p.execute(work{}); !errors.Is(err, errBurnerPanic) {
			t.Fatalf("err = %v, want errBurnerPanic", err)
		}
	}
	if st := p.stats(); st.Failed != 2 || st.Busy != 0 {
		t.Fatalf("after panics: %+v", st)
	}
}

func TestPoolBurnerErrorCountsAsFailed(t *testing.T) {
	t.Parallel()
	gate := newGateBurner()
	p := newPool(1, gate, nil)
	t.Cleanup(p.abort)
	res := executeAsync(p, work{})
	boom := errors.New("boom")
	recv(t, gate.started).release <- boom
	if r := recv(t, res); !errors.Is(r.err, boom) || errors.Is(r.err, errAborted) {
		t.Fatalf("err = %v, want boom", r.err)
	}
	if st := p.stats(); st.Failed != 1 || st.Aborted != 0 {
		t.Fatalf("stats: %+v", st)
	}
}
