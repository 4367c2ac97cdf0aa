package benchkit

import (
	"os"
	"strconv"
	"strings"
)

// LoadAvg is the machine's 1-minute load average (0 where /proc/loadavg is
// unavailable). Reports carry it: the benchmarks share the machine's cores
// with the control plane and anything else running.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0
	}
	return v
}
