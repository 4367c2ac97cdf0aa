//go:build !linux

package extender

import "time"

func threadCPU() time.Duration { return 0 }
