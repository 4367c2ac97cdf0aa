//go:build e2e

package e2e

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var updateRBAC = flag.Bool("update-rbac", false, "rewrite e2e/testdata/rbac from the cluster (review the diff!)")

// TestLeastPrivilege compares what each hdscale ServiceAccount may do
// (`kubectl auth can-i --list`, in hdscale's namespace and in an ordinary
// one) with the checked-in lists in e2e/testdata/rbac: a grant that is not
// in the list fails the test, so every permission is one somebody reviewed
// (the reasons are next to each rule in manifests/*/rbac.yaml). The lists are
// for the cluster version of the e2e suite (the scheduler's come from the
// built-in system:kube-scheduler role of that version).
func TestLeastPrivilege(t *testing.T) {
	g := group(t)
	for _, sa := range []string{"hdscale-webhook", "hdscale-scheduler"} {
		for _, ns := range []string{systemNamespace, "default"} {
			g.step(t, sa+" in "+ns, func(t *testing.T) {
				out, err := kubectl(testContext(t), nil, "auth", "can-i", "--list", "-n", ns,
					"--as=system:serviceaccount:"+systemNamespace+":"+sa)
				if err != nil {
					t.Fatal(err)
				}
				got := normaliseCanI(out)
				path := filepath.Join(suite.repoRoot, "e2e", "testdata", "rbac", sa+"."+ns+".txt")
				if *updateRBAC {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run the e2e suite with -update-rbac to create it, then review it)", err)
				}
				wantLines := lineSet(want)
				for _, l := range strings.Split(strings.TrimSpace(string(got)), "\n") {
					if !wantLines[l] {
						t.Errorf("%s may do more than reviewed in %s:\n  %s", sa, path, l)
					}
				}
				gotLines := lineSet(got)
				for l := range wantLines {
					if !gotLines[l] {
						t.Errorf("%s lost a reviewed grant (update %s if intended):\n  %s", sa, path, l)
					}
				}
			})
		}
	}
}

// bracketed is a bracketed list of `kubectl auth can-i --list` ([get list]).
var bracketed = regexp.MustCompile(`\[[^\]]*\]`)

// normaliseCanI collapses the column padding of `kubectl auth can-i --list`
// (it depends on the longest entry) and sorts the items of each bracketed
// list (verbs merged from several roles come in any order), so a line is
// one grant, written the same way every time.
func normaliseCanI(out []byte) []byte {
	var b bytes.Buffer
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		l = bracketed.ReplaceAllStringFunc(l, func(list string) string {
			items := strings.Fields(strings.Trim(list, "[]"))
			sort.Strings(items)
			return "[" + strings.Join(items, " ") + "]"
		})
		b.WriteString(strings.Join(strings.Fields(l), " "))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func lineSet(b []byte) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		m[l] = true
	}
	return m
}
