package extender

import (
	"bytes"
	"runtime"
	"testing"
)

var sinkN int

func BenchmarkZZCalib(b *testing.B) {
	buf := bytes.Repeat([]byte("abcdefghij"), 100000)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU()
	n := 0
	for b.Loop() {
		for _, c := range buf {
			if c == '"' {
				n++
			}
		}
	}
	sinkN = n
	b.ReportMetric(float64(threadCPU()-c0)/float64(b.N)/float64(len(buf)), "cpu-ns/byte")
}
