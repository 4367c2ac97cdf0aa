// Command dutyburn is the background load of the makespan benchmark: a
// process that burns -cores of CPU (a duty cycle per -period: spin until the
// process has used cores × period of CPU time in this period, then sleep to
// its end), on one OS thread. bench-makespan.sh copies it into one pool
// node's container and starts it there with docker exec, so it runs in that
// node's cgroup beside the kubelet's pods but outside them: the node's CPU
// usage (metrics.k8s.io, the node container's cgroup) shows it, pod requests
// do not, as with any load that is not a runtime pod.
//
// Under contention it gets less than it asks for, and then does not catch up
// in later periods: it is a rate, not an amount of work.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
)

func main() {
	cores := flag.Float64("cores", 0.3, "CPU to burn, in cores (0 < cores <= 1)")
	period := flag.Duration("period", 100*time.Millisecond, "duty-cycle period")
	flag.Parse()
	if *cores <= 0 || *cores > 1 || *period <= 0 {
		fmt.Fprintln(os.Stderr, "dutyburn: -cores must be in (0, 1] and -period positive")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)
	runtime.LockOSThread()
	budget := time.Duration(*cores * float64(*period))
	for {
		end := time.Now().Add(*period)
		start := cpuTime()
		for cpuTime()-start < budget && time.Now().Before(end) {
			spin()
		}
		time.Sleep(time.Until(end))
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fmt.Fprintf(os.Stderr, "dutyburn: getrusage: %v\n", err)
		os.Exit(1)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var sink uint64

func spin() {
	x := sink | 1
	for range 1 << 14 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	sink = x
}
