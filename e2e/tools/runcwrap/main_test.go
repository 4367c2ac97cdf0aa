package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestSubcommandAndFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args       []string
		cmd, value string
		long, shrt string
	}{
		{[]string{"--root", "/run/runc", "--log", "x.log", "create", "--bundle", "/b", "id"}, "create", "/b", "--bundle", "-b"},
		{[]string{"--systemd-cgroup", "run", "-b=/c", "id"}, "run", "/c", "--bundle", "-b"},
		{[]string{"exec", "--process", "/p.json", "id"}, "exec", "/p.json", "--process", "-p"},
		{[]string{"--log-format", "json", "state", "id"}, "state", "", "--bundle", "-b"},
	}
	for _, tt := range tests {
		cmd, rest := subcommand(tt.args)
		if cmd != tt.cmd {
			t.Errorf("subcommand(%v) = %q, want %q", tt.args, cmd, tt.cmd)
		}
		if got := flagValue(rest, tt.long, tt.shrt); got != tt.value {
			t.Errorf("flagValue(%v) = %q, want %q", rest, got, tt.value)
		}
	}
}

func TestRewriteDropsCapsOutsideBoundingSet(t *testing.T) {
	t.Parallel()
	bnd, err := boundingSet()
	if err != nil {
		t.Skip(err)
	}
	var missing, present string
	for name, num := range capNumbers {
		if bnd&(1<<num) == 0 && missing == "" {
			missing = name
		}
		if bnd&(1<<num) != 0 && present == "" {
			present = name
		}
	}
	if present == "" {
		t.Skip("empty bounding set")
	}
	caps := []string{present}
	if missing != "" {
		caps = append(caps, missing)
	}
	dir := t.TempDir()
	spec := map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"args":         []string{"/pause"},
			"capabilities": map[string][]string{"bounding": caps, "effective": caps},
		},
		"root": map[string]any{"path": "rootfs"},
	}
	raw, _ := json.Marshal(spec)
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(path, true); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Process struct {
			Args         []string            `json:"args"`
			Capabilities map[string][]string `json:"capabilities"`
		} `json:"process"`
		Root map[string]any `json:"root"`
	}
	raw, _ = os.ReadFile(path)
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for set, names := range got.Process.Capabilities {
		if !slices.Contains(names, present) || (missing != "" && slices.Contains(names, missing)) {
			t.Errorf("%s = %v, want %s kept and %q dropped", set, names, present, missing)
		}
	}
	if got.Root["path"] != "rootfs" || len(got.Process.Args) != 1 {
		t.Errorf("other fields changed: %s", raw)
	}
}
