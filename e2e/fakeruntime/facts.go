package main

import (
	"os"
	"runtime"
)

// runtimeFacts are process facts fixed at start-up.
type runtimeFacts struct {
	PID               int
	Hostname          string
	GOMAXPROCSAtStart int // before the fake raised it, see wantGOMAXPROCS
	BurnMode          string
}

// gatherFacts records the process facts and raises GOMAXPROCS, see
// wantGOMAXPROCS. It is only called from run, never from tests.
func gatherFacts(c config, burnMode string) runtimeFacts {
	host, _ := os.Hostname()
	f := runtimeFacts{PID: os.Getpid(), Hostname: host, GOMAXPROCSAtStart: runtime.GOMAXPROCS(0), BurnMode: burnMode}
	_, pinned := envMap(c.Env)["GOMAXPROCS"]
	if n := wantGOMAXPROCS(f.GOMAXPROCSAtStart, c.Workers, pinned); n != f.GOMAXPROCSAtStart {
		runtime.GOMAXPROCS(n)
	}
	return f
}

// wantGOMAXPROCS is the GOMAXPROCS the fake runs with. Each uvicorn worker
// of the real runtime is its own process that the kernel may run on its own
// core (and the CFS quota then throttles), so the fake lets every worker spin
// on its own thread, plus one for HTTP, unless GOMAXPROCS was set explicitly.
// Go's default follows the container CPU limit, which would instead make the
// fake time-slice its workers itself and never get throttled.
func wantGOMAXPROCS(current, workers int, pinned bool) int {
	if pinned {
		return current
	}
	return max(current, workers+1)
}
