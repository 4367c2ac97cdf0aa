package webhook

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// configSeeds are the configs of the config tests and docs, valid and not.
var configSeeds = []string{
	"",
	"runtime:\n  images: [hetida/designer-runtime, acme/runtime-xgboost]\nnotRuntime:\n  env:\n  - name: HD_IS_RUNTIME_SERVICE\n    values: [\"false\"]\npodLabels:\n  app: hd-runtime\n",
	"podLabels: {app: rt}\n",
	"pools:\n  runtime: {nodeCPU: \"7910m\"}\n  big: {nodeCPU: \"64\"}\n",
	"pools: {runtime: {nodeCPU: 1000000}, tiny: {nodeCPU: 1m}, e: {nodeCPU: 1e3}}\n",
	"runtime: {images: [], env: []}\npodLabels: {a: b}\n",
	"runtime: {images: null}\nnotRuntime: {images: [], env: []}\npools: {}\n",
	`{"runtime":{"images":["a/b"],"env":[{"name":"X","values":["1"," Yes "]}]},"podLabels":{"example.com/a":"b"}}`,
	// TestParseConfigErrors.
	"runtime:\n  imagez: [x]\n",
	"pool: x\n",
	"podLabels: {}\npodLabels: {}\n",
	"runtime: [\n",
	"runtime:\n  images: [hetida/designer-runtime:0.9]\n",
	"runtime:\n  images: [localhost:5000/hetida/designer-runtime]\n",
	"notRuntime:\n  images: [Hetida/Backend]\n",
	"runtime:\n  env: [{name: 'A B', values: [x]}]\n",
	"runtime:\n  env: [{name: A}]\n",
	"podLabels: {'a b': x}\n",
	"podLabels: {a: 'x y'}\n",
	"notRuntime:\n  images: [hetida/designer-runtime]\n",
	"runtime: {images: [], env: []}\npodLabels: {}\n",
	"pools: {runtime: {nodeCPU: eight}}\n",
	"pools: {runtime: {nodeCPU: '0'}}\n",
	"pools: {runtime: {nodeCPU: 1e9}}\n",
	"pools: {'a b': {nodeCPU: '8'}}\n",
	"pools: {runtime: {cpu: '8'}}\n",
	"pools: {'': {nodeCPU: '8'}, x: {nodeCPU: '-1'}, y: {nodeCPU: 0.0001}}\n",
	"runtime: &a {images: [x]}\nnotRuntime: *a\n",
	"--- \npodLabels: {a: b}\n---\npodLabels: {c: d}\n",
}

// FuzzParseConfig feeds YAML (and JSON) bytes to ParseConfig, seeded with
// the config tests' inputs and the shipped manifests/webhook/webhook.yaml.
// It checks: no panic; an error comes with the zero Config and says it is
// about the config; an accepted config has its defaults applied, passes its
// own Validate, declares every pool's node CPU within 1m..1e6 cores, and
// round-trips: marshalled with sigs.k8s.io/yaml (the library ParseConfig
// reads with, through the same json tags: Config has no marshal of its own)
// and parsed again it gives the same config, so parsing is deterministic.
func FuzzParseConfig(f *testing.F) {
	for _, s := range configSeeds {
		f.Add([]byte(s))
	}
	if shipped, err := os.ReadFile(filepath.Join("..", "manifests", "webhook", "webhook.yaml")); err == nil {
		f.Add(shipped)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			if !reflect.DeepEqual(c, Config{}) {
				t.Fatalf("an error (%v) with a config: %+v", err, c)
			}
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error %q does not say it is about the config", err)
			}
			return
		}
		if c.Runtime.Images == nil || c.Runtime.Env == nil || c.NotRuntime.Images == nil || c.NotRuntime.Env == nil || c.PodLabels == nil {
			t.Fatalf("defaults not applied: %+v", c)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config its Validate rejects: %v", err)
		}
		declared := c.DeclaredCPU()
		if len(declared) != len(c.Pools) {
			t.Fatalf("DeclaredCPU %v does not cover pools %+v", declared, c.Pools)
		}
		for name, m := range declared {
			if m < 1 || m > 1e9 {
				t.Fatalf("pool %q declares %dm CPU (nodeCPU %q)", name, m, c.Pools[name].NodeCPU)
			}
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("marshalling %+v: %v", c, err)
		}
		back, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("the marshalled config does not parse: %v\n%s", err, out)
		}
		if len(c.Pools) == 0 && len(back.Pools) == 0 { // pools is omitempty: {} and absent are the same
			c.Pools, back.Pools = nil, nil
		}
		if !reflect.DeepEqual(c, back) {
			t.Fatalf("round trip changed the config:\n%+v\n%s\n%+v", c, out, back)
		}
	})
}
