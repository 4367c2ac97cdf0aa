// Command pause is the pod sandbox process of the offline kind node image: it
// holds the pod's namespaces, reaps orphaned children, and exits on SIGINT or
// SIGTERM. It stands in for the Kubernetes pause image, which cannot be pulled
// without a registry and is C source that the Go module proxy does not serve.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const version = "hdscale-pause-1"

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "--version") {
		fmt.Println("pause.go", version)
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", s)
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
