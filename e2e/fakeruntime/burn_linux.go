package main

import (
	"fmt"
	"syscall"
	"time"
)

// threadCPUTime is the user+system CPU time of the calling OS thread. The
// caller must hold runtime.LockOSThread for readings to be comparable.
func threadCPUTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0, fmt.Errorf("getrusage(RUSAGE_THREAD): %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
