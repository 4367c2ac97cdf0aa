package extender

import (
	"encoding/json"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func BenchmarkZZPodDecode(b *testing.B) {
	raw, _ := json.Marshal(benchPod(1))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var p v1.Pod
		_ = json.Unmarshal(raw, &p)
	}
}

func BenchmarkZZNamesDecode5000(b *testing.B) {
	env := newBenchEnv(b, 5000)
	d := argsDecoder{snap: env.e.store.load()}
	body := []byte(`{"NodeNames":` + string(must(json.Marshal(names(poolNodes("pool-node-abcdefgh", "runtime", 5000))))) + `}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = d.decode(body)
	}
}

func must(b []byte, _ error) []byte { return b }
