package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// nodeContainers reads the CPU usage of kind node containers (a kind node is
// a Docker container named like the node) from their cgroups on the host,
// and runs the background burner inside one with docker exec.
type nodeContainers struct {
	usageFile map[string]string // node → file with cumulative CPU usage
	v2        map[string]bool   // the file is cgroup v2 cpu.stat
}

// cgroupCandidates are where Docker puts a container's CPU accounting:
// cgroup v1 with the cgroupfs driver, cgroup v2 with cgroupfs, cgroup v2
// with the systemd driver.
func cgroupCandidates(id string) []struct {
	path string
	v2   bool
} {
	return []struct {
		path string
		v2   bool
	}{
		{filepath.Join("/sys/fs/cgroup/cpuacct/docker", id, "cpuacct.usage"), false},
		{filepath.Join("/sys/fs/cgroup/cpu,cpuacct/docker", id, "cpuacct.usage"), false},
		{filepath.Join("/sys/fs/cgroup/docker", id, "cpu.stat"), true},
		{filepath.Join("/sys/fs/cgroup/system.slice", "docker-"+id+".scope", "cpu.stat"), true},
	}
}

func newNodeContainers(ctx context.Context, nodes []string) (*nodeContainers, error) {
	nc := &nodeContainers{usageFile: map[string]string{}, v2: map[string]bool{}}
	for _, n := range nodes {
		out, err := exec.CommandContext(ctx, "docker", "inspect", "-f", "{{.Id}}", n).Output()
		if err != nil {
			return nil, fmt.Errorf("docker inspect %s (is it a kind node container?): %w", n, err)
		}
		id := strings.TrimSpace(string(out))
		for _, c := range cgroupCandidates(id) {
			if _, err := os.Stat(c.path); err == nil {
				nc.usageFile[n], nc.v2[n] = c.path, c.v2
				break
			}
		}
		if nc.usageFile[n] == "" {
			return nil, fmt.Errorf("no CPU accounting cgroup found for node container %s (%s)", n, id)
		}
	}
	return nc, nil
}

// cpuSample is every node container's cumulative CPU time at one moment.
type cpuSample struct {
	At    time.Time
	Usage map[string]time.Duration
}

func (nc *nodeContainers) sample() (cpuSample, error) {
	s := cpuSample{At: time.Now(), Usage: map[string]time.Duration{}}
	for n, f := range nc.usageFile {
		b, err := os.ReadFile(f)
		if err != nil {
			return s, fmt.Errorf("reading %s: %w", f, err)
		}
		d, err := parseUsage(string(b), nc.v2[n])
		if err != nil {
			return s, fmt.Errorf("%s: %w", f, err)
		}
		s.Usage[n] = d
	}
	return s, nil
}

// parseUsage reads cgroup v1 cpuacct.usage (nanoseconds) or the usage_usec
// line of cgroup v2 cpu.stat.
func parseUsage(text string, v2 bool) (time.Duration, error) {
	if !v2 {
		ns, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpuacct.usage %q: %w", strings.TrimSpace(text), err)
		}
		return time.Duration(ns), nil
	}
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("usage_usec %q: %w", v, err)
			}
			return time.Duration(us) * time.Microsecond, nil
		}
	}
	return 0, fmt.Errorf("no usage_usec line in cpu.stat")
}

// coresBetween is each node's mean CPU use, in cores, between two samples.
func coresBetween(a, b cpuSample, nodes []string) []float64 {
	out := make([]float64, len(nodes))
	wall := b.At.Sub(a.At).Seconds()
	if wall <= 0 {
		return out
	}
	for i, n := range nodes {
		out[i] = (b.Usage[n] - a.Usage[n]).Seconds() / wall
	}
	return out
}

// measure samples the nodes' CPU over d.
func (nc *nodeContainers) measure(ctx context.Context, nodes []string, d time.Duration) ([]float64, error) {
	a, err := nc.sample()
	if err != nil {
		return nil, err
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	b, err := nc.sample()
	if err != nil {
		return nil, err
	}
	return coresBetween(a, b, nodes), nil
}

// startBurner starts dutyburn in node's container and returns its PID there.
func startBurner(ctx context.Context, node, path string, cores float64) (int, error) {
	script := fmt.Sprintf("%s -cores %g </dev/null >/dev/null 2>&1 & echo $!", path, cores)
	out, err := exec.CommandContext(ctx, "docker", "exec", node, "sh", "-c", script).Output()
	if err != nil {
		return 0, fmt.Errorf("starting the burner in %s: %w", node, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return 0, fmt.Errorf("burner PID in %s: %q", node, out)
	}
	return pid, nil
}

// stopBurner ends the burner process pid in node's container.
func stopBurner(ctx context.Context, node string, pid int) error {
	if out, err := exec.CommandContext(ctx, "docker", "exec", node, "kill", strconv.Itoa(pid)).CombinedOutput(); err != nil {
		return fmt.Errorf("stopping the burner (pid %d) in %s: %w: %s", pid, node, err, out)
	}
	return nil
}
