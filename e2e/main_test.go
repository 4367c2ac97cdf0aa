//go:build e2e

// Package e2e is hdscale's end-to-end suite. It runs against the kind cluster
// that `make cluster-up deploy` creates and leaves in .cluster/:
//
//	go test -tags e2e -count=1 -timeout 50m -v ./e2e/ -args -kubeconfig=$PWD/.cluster/kubeconfig
//
// Groups run in this order and can be picked with -run: TestInstall, TestLeastPrivilege,
// TestPatterns, TestPlacement, TestPoolModel, TestLiveLoad, TestRollouts, TestDayTwo, TestPlugin, TestFaults. Tests that place
// runtime pods on the pool run one at a time and wait until their pods are
// gone before they return, so no group competes with another for the pool.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var err error
	suite, err = newSuiteEnv(ctx, suiteFlags)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot start the suite: %v\n", err)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "e2e: %s\n", suite.describe())
	code := m.Run()
	summary.print(os.Stdout)
	os.Exit(code)
}
