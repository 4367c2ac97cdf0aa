//go:build !linux

package main

import "time"

// threadCPUTime is only implemented on Linux; elsewhere the burner spins on
// wall-clock time.
func threadCPUTime() (time.Duration, error) { return 0, errNoThreadCPU }
