// Command runcwrap is an OCI runtime shim for Docker engines running where the
// capability bounding set lacks capabilities that privileged containers ask
// for (for example a VM without CAP_SYS_RESOURCE). runc then fails with
// "unable to apply caps: operation not permitted". runcwrap removes from the
// OCI spec every capability that is not in its own bounding set and then
// executes the real runc with unchanged arguments:
//
//   - create and run: <bundle>/config.json, process.capabilities
//   - exec: the --process file, capabilities
//
// Register it with dockerd: --add-runtime NAME=/path/runcwrap --default-runtime NAME.
// The real runc is $HDSCALE_REAL_RUNC, else the first runc found in
// /usr/sbin, /usr/bin, /usr/local/sbin, /usr/local/bin.
//
// "runcwrap --probe" prints the bounding set and exits; e2e/tools/docker-up.sh
// uses it as the payload of its privileged-container test.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// capNumbers maps capability names to their bit numbers (linux/capability.h).
var capNumbers = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
	"CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
	"CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
	"CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
	"CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
	"CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
	"CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
	"CAP_CHECKPOINT_RESTORE": 40,
}

// globalValueFlags are runc's global flags that take a separate value.
var globalValueFlags = map[string]bool{
	"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true,
}

func main() {
	args := os.Args[1:]
	if len(args) == 1 && args[0] == "--probe" {
		bnd, err := boundingSet()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("CapBnd %016x\n", bnd)
		return
	}
	if err := filterSpec(args); err != nil {
		fmt.Fprintf(os.Stderr, "runcwrap: %v\n", err)
		os.Exit(1)
	}
	real, err := realRunc()
	if err != nil {
		fmt.Fprintf(os.Stderr, "runcwrap: %v\n", err)
		os.Exit(1)
	}
	err = syscall.Exec(real, append([]string{"runc"}, args...), os.Environ())
	fmt.Fprintf(os.Stderr, "runcwrap: exec %s: %v\n", real, err)
	os.Exit(1)
}

func realRunc() (string, error) {
	if p := os.Getenv("HDSCALE_REAL_RUNC"); p != "" {
		return p, nil
	}
	self, _ := os.Executable()
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, "runc")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 && p != self {
			return p, nil
		}
	}
	return "", fmt.Errorf("no runc found (set HDSCALE_REAL_RUNC)")
}

// filterSpec finds the subcommand and the spec file it reads, and rewrites
// that file's capabilities.
func filterSpec(args []string) error {
	cmd, rest := subcommand(args)
	switch cmd {
	case "create", "run":
		bundle := flagValue(rest, "--bundle", "-b")
		if bundle == "" {
			bundle = "."
		}
		return rewrite(filepath.Join(bundle, "config.json"), true)
	case "exec":
		if p := flagValue(rest, "--process", "-p"); p != "" {
			return rewrite(p, false)
		}
	}
	return nil
}

func subcommand(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if globalValueFlags[a] {
				i++
			}
			continue
		}
		return a, args[i+1:]
	}
	return "", nil
}

func flagValue(args []string, long, short string) string {
	for i, a := range args {
		for _, name := range []string{long, short} {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
			if strings.HasPrefix(a, name+"=") {
				return strings.TrimPrefix(a, name+"=")
			}
		}
	}
	return ""
}

// rewrite drops unavailable capabilities from the spec at path; isBundle
// selects between a full config.json and a bare process object.
func rewrite(path string, isBundle bool) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil // let runc report it
		}
		return err
	}
	bnd, err := boundingSet()
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	proc := doc
	if isBundle {
		pr, ok := doc["process"]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(pr, &proc); err != nil {
			return fmt.Errorf("parse %s process: %w", path, err)
		}
	}
	capsRaw, ok := proc["capabilities"]
	if !ok || bytes.Equal(bytes.TrimSpace(capsRaw), []byte("null")) {
		return nil
	}
	var caps map[string][]string
	if err := json.Unmarshal(capsRaw, &caps); err != nil {
		return fmt.Errorf("parse %s capabilities: %w", path, err)
	}
	changed := false
	for set, names := range caps {
		kept := names[:0:0]
		for _, n := range names {
			if num, known := capNumbers[strings.ToUpper(n)]; known && bnd&(1<<num) == 0 {
				changed = true
				continue
			}
			kept = append(kept, n)
		}
		caps[set] = kept
	}
	if !changed {
		return nil
	}
	if proc["capabilities"], err = json.Marshal(caps); err != nil {
		return err
	}
	if isBundle {
		if doc["process"], err = json.Marshal(proc); err != nil {
			return err
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".runcwrap"
	if err := os.WriteFile(tmp, out, st.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// boundingSet reads CapBnd of this process from /proc/self/status.
func boundingSet() (uint64, error) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, fmt.Errorf("CapBnd not found in /proc/self/status")
}
