package plugin

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	t.Parallel()
	o, err := ParseArgs([]string{"explain", "rt-a", "-n", "hetida", "--context=kind-hdscale", "-o", "yaml", "--extender-port", "9999"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.Args, " ") != "explain rt-a" || o.Namespace != "hetida" || o.Context != "kind-hdscale" || o.Output != OutputYAML ||
		o.ExtenderPort != 9999 || o.ExtenderNamespace != DefaultExtenderNamespace || o.SchedulerName != "hdscale-scheduler" || o.Timeout != 30*time.Second {
		t.Errorf("options = %+v", o)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"drift", "-o", "xml"}, `--output "xml": must be json or yaml`},
		{[]string{"drift", "-A", "-n", "x"}, "--namespace and --all-namespaces exclude each other"},
		{[]string{"status", "--webhook-config", "cm"}, `--webhook-config "cm": must be namespace/name`},
		{[]string{"status", "--extender-port", "0"}, "--extender-port 0: must be a port number"},
		{[]string{"status", "--bogus"}, "flag provided but not defined: -bogus"},
	} {
		if _, err := ParseArgs(tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseArgs(%q) = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(t, nil)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage:"},
		{[]string{"-h"}, 0, "Usage:"},
		{[]string{"frobnicate"}, 2, `error: unknown command "frobnicate" (status, explain, drift, version)`},
		{[]string{"status", "extra"}, 2, `error: status: unexpected arguments ["extra"]`},
		{[]string{"drift", "-o", "xml"}, 2, `error: --output "xml"`},
	} {
		_, errOut, code := f.run(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

func TestVersionNeedsNoCluster(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	code := Run(context.Background(), []string{"version"}, Env{Stdout: &out, Stderr: &errb, Connect: func(Options) (*Clients, error) {
		t.Error("version connected to a cluster")
		return nil, errors.New("no cluster")
	}})
	if code != 0 || !strings.HasPrefix(out.String(), "hdscale ") {
		t.Errorf("exit %d, out %q, err %q", code, out.String(), errb.String())
	}
}
