package webhook

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultConfigValid(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Runtime.Images, []string{RuntimeImage}) || c.PodLabels["app.kubernetes.io/component"] != "runtime" {
		t.Errorf("unexpected defaults: %+v", c)
	}
	empty, err := ParseConfig([]byte(""))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(empty, c) {
		t.Errorf("an empty file gives %+v, want the defaults", empty)
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig([]byte(`
runtime:
  images: [hetida/designer-runtime, acme/runtime-xgboost]
notRuntime:
  env:
  - name: HD_IS_RUNTIME_SERVICE
    values: ["false"]
podLabels:
  app: hd-runtime
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Runtime.Images) != 2 || len(c.Runtime.Env) != 1 || c.Runtime.Env[0].Name != EnvIsBackendService {
		t.Errorf("runtime rules = %+v (env must keep its default)", c.Runtime)
	}
	if !reflect.DeepEqual(c.NotRuntime.Images, []string{BackendImage}) || !reflect.DeepEqual(c.NotRuntime.Env[0].Values, []string{"false"}) {
		t.Errorf("notRuntime rules = %+v", c.NotRuntime)
	}
	if !reflect.DeepEqual(c.PodLabels, map[string]string{"app": "hd-runtime"}) {
		t.Errorf("podLabels = %v", c.PodLabels)
	}
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ yaml, want string }{
		"unknown field":             {"runtime:\n  imagez: [x]\n", "unknown field"},
		"unknown top field":         {"pool: x\n", "unknown field"},
		"duplicate field":           {"podLabels: {}\npodLabels: {}\n", "podLabels"},
		"not yaml":                  {"runtime: [\n", "config"},
		"image with tag":            {"runtime:\n  images: [hetida/designer-runtime:0.9]\n", "runtime.images entry \"hetida/designer-runtime:0.9\""},
		"image with host":           {"runtime:\n  images: [localhost:5000/hetida/designer-runtime]\n", "without registry host"},
		"uppercase image":           {"notRuntime:\n  images: [Hetida/Backend]\n", "notRuntime.images"},
		"bad env name":              {"runtime:\n  env: [{name: 'A B', values: [x]}]\n", "runtime.env[0].name"},
		"env without value":         {"runtime:\n  env: [{name: A}]\n", "at least one value"},
		"env value with a tab":      {"runtime:\n  env: [{name: A, values: [\"a\\tb\"]}]\n", `runtime.env[0].values[0] "a\tb" contains U+0009`},
		"env value with NEL (fuzz)": {"runtime:\n  env: [{name: A, values: [\"a\\Nb\"]}]\n", "contains U+0085: a match value must be one line"},
		"nodeCPU the parser would spend minutes on": {"pools: {runtime: {nodeCPU: '.8E38388880032'}}\n", "is not a quantity"},
		"bad label key":               {"podLabels: {'a b': x}\n", "podLabels key"},
		"bad label value":             {"podLabels: {a: 'x y'}\n", "podLabels[a] value"},
		"both lists":                  {"notRuntime:\n  images: [hetida/designer-runtime]\n", "both runtime.images and notRuntime.images"},
		"matches nothing":             {"runtime: {images: [], env: []}\npodLabels: {}\n", "no pod would ever match"},
		"declared CPU not a quantity": {"pools: {runtime: {nodeCPU: eight}}\n", `pools[runtime].nodeCPU "eight" is not a quantity`},
		"declared CPU zero":           {"pools: {runtime: {nodeCPU: '0'}}\n", `pools[runtime].nodeCPU "0" must be between 1m and 1000000`},
		"declared CPU huge":           {"pools: {runtime: {nodeCPU: 1e9}}\n", "must be between 1m"},
		"bad pool name":               {"pools: {'a b': {nodeCPU: '8'}}\n", `pools key "a b"`},
		"unknown pool field":          {"pools: {runtime: {cpu: '8'}}\n", "unknown field"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfig([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDeclaredPools(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig([]byte("pools:\n  runtime: {nodeCPU: \"7910m\"}\n  big: {nodeCPU: \"64\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.DeclaredCPU(); !reflect.DeepEqual(got, map[string]int64{"runtime": 7910, "big": 64000}) {
		t.Errorf("DeclaredCPU = %v", got)
	}
	shipped, err := LoadConfig(filepath.Join("..", "manifests", "webhook", "webhook.yaml"))
	if err != nil {
		t.Fatalf("the shipped config does not parse: %v", err)
	}
	if len(shipped.DeclaredCPU()) != 0 {
		t.Errorf("the shipped config declares pools: %v", shipped.Pools)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig("")
	if err != nil || !reflect.DeepEqual(c, DefaultConfig()) {
		t.Fatalf("LoadConfig(\"\") = %+v, %v", c, err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("podLabels: {app: rt}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := LoadConfig(good); err != nil || c.PodLabels["app"] != "rt" {
		t.Fatalf("LoadConfig(good) = %+v, %v", c, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("runtime: {imagez: []}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("LoadConfig(bad) error %v does not name the file", err)
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
}
